/*
 * Why this file exists: operators read the console in Chinese as often as in English, and
 * words drift when each page keeps its own. Every word a console page shows is a row here (key,
 * English, Chinese); the pages fetch the table for the request's language (GET /i18n.json) and
 * show keys they do not find as the key itself, so a missing row is visible, not blank.
 *
 * Zone kinds, health states, the reasons a candidate does not count (rules/status.h) and the
 * evidence roles are rows like the others, keyed by the names the JSON uses ("kind.<kind>",
 * "health.<state>", "why.<reason>", "role.<role>"), so a page translates a value by prefixing
 * it. The GB/T 30428.2 category names stay where the standard's names live
 * (config/categories.c, Chinese, as the standard writes them); this file only adds their
 * English translation.
 *
 * Language choice: Chinese when the browser ranks a zh tag above every en tag (Accept-Language
 * q values, first listed wins a tie); English otherwise, including for other languages.
 */
#include "i18n.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "categories.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct row {
    const char *key, *en, *zh;
};

static const struct row rows[] = {
    /* the grid (/) */
    {"grid.title", "Cameras", "摄像机"},
    {"grid.delivery", "Delivery", "事件投递"},
    {"grid.delivery_off", "no delivery endpoint configured", "未配置投递"},
    {"grid.pending", "pending in the outbox", "待确认"},
    {"grid.last_ack", "last acknowledgement", "最近确认"},
    {"grid.never", "never", "无"},
    {"grid.fps", "analysed fps", "分析帧率"},
    {"grid.open", "open episodes", "进行中事件"},
    {"grid.zones", "zones", "区域"},
    {"grid.since", "since", "自"},
    {"grid.ago", "ago", "前"},
    {"grid.no_frame", "no frame yet", "暂无画面"},
    {"grid.links", "Other pages", "其他页面"},
    {"link.camera", "camera page", "摄像机页面"},
    {"link.editor", "zone editor", "区域编辑器"},
    {"link.snapshot", "snapshot", "快照"},
    {"link.frame", "frame", "原始画面"},
    {"link.zones", "zones.json", "zones.json"},
    {"link.status", "status.json", "status.json"},
    {"link.grid", "all cameras", "全部摄像机"},
    /* the zone editor (editor.html; its error messages stay check's, in English) */
    {"editor.title", "Zone editor: camera", "区域编辑器：摄像机"},
    {"editor.note",
     "Select a zone in the list or on the image and drag its points; New zone, then click on "
     "the image to place its points. Export YAML gives the camera's zones: block. This page "
     "changes nothing on the detector: paste the YAML into the config file, check it with "
     "streetorder check -c FILE, then restart (or reload) the detector.",
     "在列表或画面上选择区域并拖动其顶点；点“新建区域”后在画面上点击放置顶点。“导出 YAML”"
     "给出该摄像机的 zones: 配置块。本页面不会修改检测器：请将 YAML 粘贴到配置文件中，用 "
     "streetorder check -c FILE 检查，然后重启（或重新加载）检测器。"},
    {"editor.reload", "Reload frame", "刷新画面"},
    {"editor.show_rest", "show what is at rest now (magenta)", "显示当前静止像素（品红）"},
    {"editor.zones", "Zones", "区域"},
    {"editor.new_zone", "New zone", "新建区域"},
    {"editor.selected", "Selected zone", "所选区域"},
    {"editor.add_points", "Add points", "添加顶点"},
    {"editor.done_adding", "Done adding points", "完成添加顶点"},
    {"editor.delete_point", "Delete point", "删除顶点"},
    {"editor.delete_zone", "Delete zone", "删除区域"},
    {"editor.export", "Export", "导出"},
    {"editor.export_yaml", "Export YAML", "导出 YAML"},
    {"editor.would_see", "Would see now:", "当前可见："},
    {"editor.no_mask", "no rest mask yet", "尚无静止像素图"},
    {"editor.share_at_rest", "of it at rest", "处于静止"},
    {"editor.at_rest", "at rest", "静止"},
    {"editor.moving", "moving", "移动中"},
    {"editor.no_track", "no tracked object inside", "区域内无跟踪目标"},
    /* health */
    {"health.live", "live", "在线"},
    {"health.blind", "blind", "无信号"},
    {"health.moved", "moved", "被移动"},
    {"health.tampered", "tampered", "被遮挡"},
    {"health.unknown", "not started", "未启动"},
    /* the camera page */
    {"cam.title", "Camera", "摄像机"},
    {"cam.overlays", "Overlays", "叠加显示"},
    {"overlay.zones", "zones", "区域"},
    {"overlay.rest", "at rest", "静止像素"},
    {"overlay.tracks", "tracks", "跟踪目标"},
    {"overlay.detections", "network boxes", "检测框"},
    {"overlay.candidates", "candidates", "候选目标"},
    {"cam.suspended", "camera moved or tampered with: rules suspended",
     "摄像机被移动或遮挡：规则暂停"},
    {"cam.zone", "zone", "区域"},
    {"cam.kind", "kind", "类型"},
    {"cam.category", "category", "案件类别"},
    {"cam.enforced", "enforced now", "当前执法"},
    {"cam.not_enforced", "not enforced now (schedule)", "当前不在执法时段"},
    {"cam.occupancy", "occupancy", "占用"},
    {"cam.min_occupancy", "min_occupancy", "最小占用"},
    {"cam.dwell", "dwell", "停留阈值"},
    {"cam.age", "at rest", "静止时长"},
    {"cam.class", "class", "类别"},
    {"cam.score", "score", "置信度"},
    {"cam.counts", "counts", "计入"},
    {"cam.reason", "why", "原因"},
    {"cam.episode", "episode", "事件"},
    {"cam.evidence", "evidence", "证据"},
    {"cam.candidates", "candidates", "候选目标"},
    {"cam.none", "nothing at rest here", "无静止目标"},
    {"cam.more", "more not listed", "条未列出"},
    {"cam.yes", "yes", "是"},
    {"cam.no", "no", "否"},
    {"state.none", "none", "无"},
    {"state.candidate", "candidate", "候选"},
    {"state.warned", "warned", "已预警"},
    {"state.open", "open", "进行中"},
    {"state.cleared", "cleared", "已结束"},
    {"role.rest", "came to rest", "开始停放"},
    {"role.confirm", "confirmed", "确认"},
    {"role.after", "after", "离开后"},
    {"role.warning", "warned", "预警"},
    /* zone kinds (config.h) */
    {"kind.illegal_parking", "illegal parking", "机动车违停"},
    {"kind.nonmotor_parking", "non-motor parking", "非机动车乱停"},
    {"kind.sidewalk_occupied", "sidewalk occupied", "占道堆物"},
    {"kind.stall_encroachment", "stall encroachment", "店外经营"},
    /* why a candidate does or does not count (rules/status.h) */
    {"why.counts", "counts toward the dwell", "计入停留时间"},
    {"why.not_enforced", "not enforced now (schedule)", "当前不在执法时段"},
    {"why.confirming", "being confirmed (blob followed < 5 s)", "确认中（跟踪不足5秒）"},
    {"why.unseen", "not seen on this frame", "本帧未见"},
    {"why.moving", "moving", "在移动"},
    {"why.person", "a person", "行人"},
    {"why.other_kind", "not this zone's kind of thing", "非本区域目标类型"},
    {"why.class", "class not in the zone's classes", "类别不在区域类别中"},
    {"why.score", "score below min_score", "置信度低于 min_score"},
    {"why.too_small", "too small", "太小"},
    {"why.too_large", "too large", "太大"},
    {"why.footprint", "outside the footprint share", "落地面积不在区域内"},
    {"why.upright", "upright like a person", "直立如行人"},
    {"why.needs_class", "unlabelled (require_class)", "未识别类别（require_class）"},
    {"why.suspended", "suspended while the camera is moved", "摄像机被移动，暂停"},
    {"why.silenced", "silenced by the platform (dismissed, or a permit window)",
     "平台已屏蔽（已驳回或许可时段）"},
};

/* English names of the built-in GB/T 30428.2 codes (the Chinese ones: categories.c). */
static const struct {
    const char *code, *en;
} category_en[] = {
    {"0102", "exposed garbage"},
    {"0501", "unlicensed street vending"},
    {"0504", "business outside the shop"},
    {"0505", "motor vehicle parked illegally"},
    {"0506", "non-motor vehicle parked illegally"},
    {"0507", "materials piled up"},
};

const char *so_i18n_code(enum so_lang lang)
{
    return lang == SO_LANG_ZH ? "zh" : "en";
}

/* Does the tag at s (n bytes) name language `code` ("zh", "zh-CN", "zh;q=0.8")? */
static bool tag_is(const char *s, size_t n, const char *code)
{
    return n >= 2 && tolower((unsigned char)s[0]) == code[0] &&
           tolower((unsigned char)s[1]) == code[1] &&
           (n == 2 || s[2] == '-' || s[2] == ';' || isspace((unsigned char)s[2]));
}

/* One tag of the header: its language (-1: neither en nor zh) and q (0..1). */
static void parse_tag(const char *s, size_t n, int *lang, double *q)
{
    while (n && isspace((unsigned char)*s)) {
        s++, n--;
    }
    *lang = tag_is(s, n, "zh") ? SO_LANG_ZH : tag_is(s, n, "en") ? SO_LANG_EN : -1;
    *q = 1.0;
    const char *semi = memchr(s, ';', n);
    if (semi) {
        const char *qs = semi + 1;
        while (qs < s + n && isspace((unsigned char)*qs)) {
            qs++;
        }
        if (qs + 2 <= s + n && qs[0] == 'q' && qs[1] == '=') {
            *q = strtod(qs + 2, NULL);
        }
    }
}

enum so_lang so_i18n_pick(const char *accept_language)
{
    double best[2] = {-1, -1};
    int first = -1;
    for (const char *s = accept_language; s && *s;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        int lang;
        double q;
        parse_tag(s, n, &lang, &q);
        if (lang >= 0 && q > 0 && q > best[lang]) {
            best[lang] = q;
            if (first < 0) {
                first = lang;
            }
        }
        s = end ? end + 1 : s + n;
    }
    if (best[SO_LANG_ZH] > best[SO_LANG_EN] ||
        (best[SO_LANG_ZH] >= 0 && best[SO_LANG_ZH] == best[SO_LANG_EN] && first == SO_LANG_ZH)) {
        return SO_LANG_ZH;
    }
    return SO_LANG_EN;
}

const char *so_i18n_text(enum so_lang lang, const char *key)
{
    static const char prefix[] = "category.";
    if (strncmp(key, prefix, sizeof(prefix) - 1) == 0) {
        const char *code = key + sizeof(prefix) - 1;
        for (size_t i = 0; i < ARRAY_LEN(category_en); i++) {
            if (strcmp(category_en[i].code, code) == 0) {
                return lang == SO_LANG_ZH ? so_category_name(code) : category_en[i].en;
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        if (strcmp(rows[i].key, key) == 0) {
            return lang == SO_LANG_ZH ? rows[i].zh : rows[i].en;
        }
    }
    return NULL;
}

char *so_i18n_json(enum so_lang lang, size_t *len)
{
    json_t *text = json_object();
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        json_object_set_new(text, rows[i].key, json_string(so_i18n_text(lang, rows[i].key)));
    }
    for (size_t i = 0; i < ARRAY_LEN(category_en); i++) {
        char key[32];
        snprintf(key, sizeof(key), "category.%s", category_en[i].code);
        const char *t = so_i18n_text(lang, key);
        json_object_set_new(text, key, json_string(t ? t : category_en[i].code));
    }
    json_t *root = json_pack("{s:s, s:o}", "lang", so_i18n_code(lang), "text", text);
    char *out = json_dumps(root, JSON_SORT_KEYS);
    json_decref(root);
    if (!out) {
        abort();
    }
    *len = strlen(out);
    return out;
}
