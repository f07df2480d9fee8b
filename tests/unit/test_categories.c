/*
 * Unit tests for detector/config/categories.c: the shipped config/categories.yaml loads, an
 * operator's file overrides it (local codes and names, extra standard codes), one table row per
 * error class (place, key path and message checked), and lookups with and without a table.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "categories.h"
#include "so_build_config.h"
#include "testlib.h"

/* Load yaml text through a temp file (removed again); its name goes to path (PATH_MAX). */
static struct so_categories *load_text(const char *yaml, struct so_config_errors *errors,
                                       char *path)
{
    so_test_write_temp(yaml, path);
    struct so_categories *cats = so_categories_load(path, errors);
    unlink(path);
    return cats;
}

static void test_shipped(void)
{
    struct so_config_errors errors = {0};
    struct so_categories *cats = so_categories_load(SO_SOURCE_DIR "/config/categories.yaml",
                                                    &errors);
    CHECK(cats != NULL);
    CHECK_INT(errors.n, 0);
    so_test_dump_errors(&errors);
    so_config_errors_finish(&errors);
    /* every code a zone kind produces is listed, with its standard name, nothing mapped yet */
    static const char *const codes[] = {"0102", "0501", "0504", "0505", "0506", "0507"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct so_category c;
        so_test_check(so_categories_lookup(cats, codes[i], &c), __FILE__, __LINE__,
                      "shipped file knows %s", codes[i]);
        CHECK_STR(c.name, so_category_name(codes[i]));
        so_test_check(!c.local_code && !c.local_name, __FILE__, __LINE__,
                      "%s: local code and name commented out in the shipped file", codes[i]);
    }
    CHECK_INT(so_categories_n_local(cats), 0);
    CHECK_STR(so_categories_path(cats), SO_SOURCE_DIR "/config/categories.yaml");
    so_categories_destroy(cats);
}

static void test_override(void)
{
    char path[PATH_MAX];
    struct so_config_errors errors = {0};
    struct so_categories *cats = load_text(
        "# a city's mapping\n"
        "categories:\n"
        "  \"0505\":\n"
        "    name: 机动车乱停放\n"
        "    local_code: \"6201020505\"\n"
        "    local_name: 机动车违规停放\n"
        "  0506: {local_code: GS-0506.1}\n"     /* unquoted code keeps its leading zero */
        "  \"0503\": {name: 占道废品收购, local_name: 占道收废品}\n"
        "  \"0507\":\n",                        /* listed, nothing mapped */
        &errors, path);
    CHECK(cats != NULL);
    so_test_dump_errors(&errors);
    so_config_errors_finish(&errors);
    struct so_category c;
    CHECK(so_categories_lookup(cats, "0505", &c));
    CHECK_STR(c.code, "0505");
    CHECK_STR(c.name, "机动车乱停放");
    CHECK_STR(c.local_code, "6201020505");
    CHECK_STR(c.local_name, "机动车违规停放");
    CHECK(so_categories_lookup(cats, "0506", &c));
    CHECK_STR(c.name, "非机动车乱停放");     /* built in, not given in the file */
    CHECK_STR(c.local_code, "GS-0506.1");
    CHECK(c.local_name == NULL);
    CHECK(so_categories_lookup(cats, "0503", &c));   /* not built in: the file names it */
    CHECK_STR(c.name, "占道废品收购");
    CHECK(c.local_code == NULL);
    CHECK_STR(c.local_name, "占道收废品");
    CHECK(so_categories_lookup(cats, "0507", &c));
    CHECK_STR(c.name, "乱堆物料");
    CHECK(c.local_code == NULL && c.local_name == NULL);
    CHECK(so_categories_lookup(cats, "0504", &c));   /* absent from the file: built-in name */
    CHECK_STR(c.name, "店外经营");
    CHECK(c.local_code == NULL);
    CHECK(!so_categories_lookup(cats, "0999", &c));  /* unknown everywhere */
    CHECK(c.name == NULL && c.local_code == NULL);
    CHECK_STR(c.code, "0999");
    CHECK_INT(so_categories_n_local(cats), 3);
    so_categories_destroy(cats);

    /* an empty mapping is valid: nothing mapped */
    cats = load_text("categories: {}\n", &errors, path);
    CHECK(cats != NULL);
    CHECK_INT(so_categories_n_local(cats), 0);
    so_categories_destroy(cats);
    so_config_errors_finish(&errors);
}

struct err_case {
    const char *name;
    const char *yaml;   /* NULL: a file that does not exist */
    int line, column;
    const char *key;    /* exact key path */
    const char *message;/* substring of the message */
    int count;          /* exact number of errors */
};

static const struct err_case err_cases[] = {
    {"missing file", NULL, 0, 0, "", "cannot read: No such file or directory", 1},
    {"empty file", "# nothing\n", 0, 0, "", "the file is empty: expected a \"categories\"", 1},
    {"YAML syntax", "categories:\n  \"0505\": {local_code: [1\n", 3, 1, "",
     "YAML syntax error: did not find expected ',' or ']'", 1},
    {"second document", "categories: {}\n---\ncategories: {}\n", 3, 1, "",
     "expected one YAML document, found a second one", 1},
    {"unknown top key", "categories: {}\ncity: Lanzhou\n", 2, 1, "city",
     "unknown key \"city\"; allowed keys are categories", 1},
    {"categories missing", "{}\n", 1, 1, "categories", "missing required key \"categories\"", 1},
    {"categories not a mapping", "categories: [\"0505\"]\n", 1, 13, "categories",
     "expected a mapping from standard codes like \"0505\"", 1},
    {"bad code: 3 digits", "categories:\n  505: {local_code: \"1\"}\n", 2, 3, "categories",
     "expected a standard code of exactly 4 digits like \"0505\" as the key, got \"505\"", 1},
    {"bad code: letters", "categories:\n  \"05a5\": {}\n", 2, 3, "categories",
     "exactly 4 digits", 1},
    {"duplicate code", "categories:\n  \"0505\": {}\n  \"0505\": {}\n", 3, 3, "categories.0505",
     "duplicate code \"0505\" (first given at line 2)", 1},
    {"unknown entry key, did you mean", "categories:\n  \"0505\": {local_cod: \"1\"}\n", 2, 12,
     "categories.0505.local_cod", "unknown key \"local_cod\" (did you mean \"local_code\"?)", 1},
    {"entry not a mapping", "categories:\n  \"0505\": 6201020505\n", 2, 11, "categories.0505",
     "expected a mapping of name, local_code, local_name", 1},
    {"wrong standard name", "categories:\n  \"0505\": {name: 非机动车乱停放}\n", 2, 18,
     "categories.0505.name",
     "expected the standard name of 0505, \"机动车乱停放\" (or no name), got \"非机动车乱停放\"", 1},
    {"bad local code", "categories:\n  \"0505\": {local_code: \"62 01\"}\n", 2, 24,
     "categories.0505.local_code",
     "expected a code of 1 to 32 letters, digits, '.', '_' or '-', got \"62 01\"", 1},
    {"local code too long", "categories:\n  \"0505\": {local_code: "
     "\"123456789012345678901234567890123\"}\n", 2, 24, "categories.0505.local_code",
     "expected a code of 1 to 32", 1},
    {"local name not text", "categories:\n  \"0505\": {local_name: [a]}\n", 2, 24,
     "categories.0505.local_name", "expected the city's name for the category (text), got a "
     "list of 1 item", 1},
    {"several errors in one run",
     "categories:\n  \"0505\": {local_code: \"a b\"}\n  \"0506\": {nam: x}\n  \"77\": {}\n",
     2, 24, "categories.0505.local_code", "expected a code of 1 to 32", 3},
};

static void test_errors(void)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *c = &err_cases[i];
        struct so_config_errors errors = {0};
        struct so_categories *cats;
        if (c->yaml) {
            cats = load_text(c->yaml, &errors, path);
        } else {
            snprintf(path, sizeof(path), "/nonexistent/streetorder/categories.yaml");
            cats = so_categories_load(path, &errors);
        }
        so_test_check(cats == NULL, __FILE__, __LINE__, "%s: load fails", c->name);
        bool found = false;
        for (size_t k = 0; k < errors.n && !found; k++) {
            const struct so_config_error *e = &errors.items[k];
            found = e->line == c->line && e->column == c->column && !strcmp(e->key, c->key) &&
                    strstr(e->message, c->message) && !strcmp(e->file, path);
        }
        so_test_check(found, __FILE__, __LINE__, "%s: error at %d:%d, key \"%s\", message ~ "
                      "\"%s\"", c->name, c->line, c->column, c->key, c->message);
        so_test_check((int)errors.n == c->count, __FILE__, __LINE__,
                      "%s: %d error(s) (got %zu)", c->name, c->count, errors.n);
        if (!found || (int)errors.n != c->count) {
            so_test_dump_errors(&errors);
        }
        so_categories_destroy(cats);
        so_config_errors_finish(&errors);
    }
}

static void test_lookup_builtin(void)
{
    /* no table: built-in names only, never a local code */
    static const struct {
        const char *code, *name;
    } names[] = {
        {"0102", "暴露垃圾"},       {"0501", "无照经营游商"},   {"0504", "店外经营"},
        {"0505", "机动车乱停放"},   {"0506", "非机动车乱停放"}, {"0507", "乱堆物料"},
        {"0503", NULL},             {"", NULL},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct so_category c;
        bool known = so_categories_lookup(NULL, names[i].code, &c);
        so_test_check(known == (names[i].name != NULL), __FILE__, __LINE__,
                      "lookup(NULL, \"%s\") %s", names[i].code,
                      names[i].name ? "known" : "unknown");
        if (names[i].name) {
            CHECK_STR(c.name, names[i].name);
        } else {
            CHECK(c.name == NULL);
        }
        CHECK(c.local_code == NULL && c.local_name == NULL);
    }
    CHECK(so_categories_path(NULL) == NULL);
    CHECK_INT(so_categories_n_local(NULL), 0);
    so_categories_destroy(NULL);

    /* a zone's code: its override, else the kind's default */
    static const struct {
        enum so_zone_kind kind;
        const char *override, *code;
    } zones[] = {
        {SO_ZONE_ILLEGAL_PARKING, NULL, "0505"},   {SO_ZONE_NONMOTOR_PARKING, NULL, "0506"},
        {SO_ZONE_SIDEWALK_OCCUPIED, NULL, "0507"}, {SO_ZONE_STALL_ENCROACHMENT, NULL, "0504"},
        {SO_ZONE_STALL_ENCROACHMENT, "0501", "0501"},
    };
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        struct so_zone_cfg z = {.kind = zones[i].kind, .category = (char *)zones[i].override};
        CHECK_STR(so_category_code(&z), zones[i].code);
    }
}

int main(void)
{
    test_shipped();
    test_override();
    test_errors();
    test_lookup_builtin();
    return so_test_done();
}
