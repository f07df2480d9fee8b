/*
 * Unit tests of the console's words (http/i18n.c): the language picked from Accept-Language
 * headers as browsers send them, lookups of table keys, zone kinds, reasons and GB/T category
 * names in both languages, every key the pages and the rules use present in both, and the JSON
 * the pages fetch.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "categories.h"
#include "config.h"
#include "i18n.h"
#include "status.h"
#include "testlib.h"

static const struct {
    const char *header;
    enum so_lang want;
} pick_cases[] = {
    {NULL, SO_LANG_EN},
    {"", SO_LANG_EN},
    {"zh-CN,zh;q=0.9,en;q=0.8", SO_LANG_ZH},
    {"en-US,en;q=0.9,zh-CN;q=0.8", SO_LANG_EN},
    {"zh", SO_LANG_ZH},
    {"ZH-tw", SO_LANG_ZH},
    {"fr-FR,fr;q=0.9", SO_LANG_EN},                 /* neither: English */
    {"fr,zh;q=0.5", SO_LANG_ZH},                    /* zh is the only one asked for */
    {"en;q=0.4, zh;q=0.6", SO_LANG_ZH},             /* q decides, not the order */
    {"zh;q=0.5,en;q=0.5", SO_LANG_ZH},              /* a tie: the first listed */
    {"en;q=0.5,zh;q=0.5", SO_LANG_EN},
    {"zh;q=0,en", SO_LANG_EN},                      /* q=0: not acceptable */
    {"zhx,en", SO_LANG_EN},                         /* "zhx" is not zh */
    {"*", SO_LANG_EN},
};

static const struct {
    const char *key, *en, *zh;
} text_cases[] = {
    {"kind.illegal_parking", "illegal parking", "机动车违停"},
    {"kind.stall_encroachment", "stall encroachment", "店外经营"},
    {"health.blind", "blind", "无信号"},
    {"why.person", "a person", "行人"},
    {"why.footprint", "outside the footprint share", "落地面积不在区域内"},
    {"category.0505", "motor vehicle parked illegally", "机动车乱停放"},
    {"category.0504", "business outside the shop", "店外经营"},
    {"grid.title", "Cameras", "摄像机"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
        enum so_lang got = so_i18n_pick(pick_cases[i].header);
        so_test_check(got == pick_cases[i].want, __FILE__, __LINE__, "\"%s\" -> %s",
                      pick_cases[i].header ? pick_cases[i].header : "(none)",
                      so_i18n_code(got));
    }
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        CHECK_STR(so_i18n_text(SO_LANG_EN, text_cases[i].key), text_cases[i].en);
        CHECK_STR(so_i18n_text(SO_LANG_ZH, text_cases[i].key), text_cases[i].zh);
    }
    CHECK(so_i18n_text(SO_LANG_EN, "no.such.key") == NULL);
    CHECK(so_i18n_text(SO_LANG_ZH, "category.9999") == NULL);
    /* The Chinese category names are the standard's, as categories.c has them. */
    CHECK_STR(so_i18n_text(SO_LANG_ZH, "category.0506"), so_category_name("0506"));

    /* Every zone kind, reason and health state has words in both languages. */
    char key[64];
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        snprintf(key, sizeof(key), "kind.%s", so_zone_kind_name((enum so_zone_kind)k));
        so_test_check(so_i18n_text(SO_LANG_EN, key) && so_i18n_text(SO_LANG_ZH, key), __FILE__,
                      __LINE__, "%s in both", key);
    }
    for (int w = 0; w < SO_WHY_COUNT_; w++) {
        snprintf(key, sizeof(key), "why.%s", so_status_why_name((enum so_status_why)w));
        so_test_check(so_i18n_text(SO_LANG_EN, key) && so_i18n_text(SO_LANG_ZH, key), __FILE__,
                      __LINE__, "%s in both", key);
    }
    static const char *const health[] = {"live", "blind", "moved", "tampered", "unknown"};
    for (size_t h = 0; h < sizeof(health) / sizeof(health[0]); h++) {
        snprintf(key, sizeof(key), "health.%s", health[h]);
        CHECK(so_i18n_text(SO_LANG_ZH, key) != NULL);
    }

    size_t len = 0;
    char *text = so_i18n_json(SO_LANG_ZH, &len);
    CHECK_INT((int)len, (int)strlen(text));
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    CHECK(root != NULL);
    CHECK_STR(json_string_value(json_object_get(root, "lang")), "zh");
    json_t *t = json_object_get(root, "text");
    CHECK_STR(json_string_value(json_object_get(t, "kind.nonmotor_parking")), "非机动车乱停");
    CHECK_STR(json_string_value(json_object_get(t, "category.0507")), "乱堆物料");
    size_t n_zh = json_object_size(t);
    json_decref(root);
    free(text);
    text = so_i18n_json(SO_LANG_EN, &len);
    root = json_loads(text, 0, &err);
    t = json_object_get(root, "text");
    CHECK_STR(json_string_value(json_object_get(root, "lang")), "en");
    CHECK_STR(json_string_value(json_object_get(t, "category.0507")), "materials piled up");
    CHECK_INT((int)json_object_size(t), (int)n_zh);
    json_decref(root);
    free(text);
    return so_test_done();
}
