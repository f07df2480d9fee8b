/*
 * Unit tests for detector/config/config.c: one table row per error class (place, key path and
 * message checked), many errors in one run, a complete valid config with every value and
 * default checked, relative url resolution, the error print format, the summary's redaction,
 * the detector.categories key (its file resolved, loaded and its errors reported), and the
 * shipped config/example.yaml.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "categories.h"
#include "auth.h"
#include "config.h"
#include "static_model.h"
#include "so_build_config.h"
#include "testlib.h"

/* Load yaml text through a temp file (removed again); its name goes to path (PATH_MAX). */
static struct so_config *load_text(const char *yaml, struct so_config_errors *errors,
                                   char *path)
{
    so_test_write_temp(yaml, path);
    struct so_config *cfg = so_config_load(path, errors);
    unlink(path);
    return cfg;
}

/* Is there an error at line:col whose key contains `key` and message contains `msg`? */
static bool has_error(const struct so_config_errors *errors, int line, int col, const char *key,
                      const char *msg)
{
    for (size_t i = 0; i < errors->n; i++) {
        const struct so_config_error *e = &errors->items[i];
        if (e->line == line && e->column == col && strstr(e->key, key) &&
            strstr(e->message, msg)) {
            return true;
        }
    }
    return false;
}

/* A valid camera with one zone; each error row below changes or adds one line to it. Lines:
 *  1 cameras:
 *  2   - id: cam1            (camera mapping at column 5)
 *  3     url: rtsp://h/s
 *  4     zones:
 *  5       - id: z1          (zone mapping at column 9)
 *  6         kind: ...
 *  7         polygon: ...    (value at column 18)
 *  8         dwell_s: ...    (value at column 18)
 *  9 (extra line)
 */
#define HEAD "cameras:\n  - id: cam1\n    url: rtsp://h/s\n    zones:\n      - id: z1\n"
#define KIND "        kind: illegal_parking\n"
#define POLY "        polygon: [[0.1,0.1],[0.9,0.1],[0.9,0.9],[0.1,0.9]]\n"
#define DWELL "        dwell_s: 60\n"
#define VALID HEAD KIND POLY DWELL
/* A valid Z85 CURVE key (the public key of the ZeroMQ CURVE documentation). */
#define KEY "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define SMALL_ZONES "    zones: [{id: z, kind: illegal_parking, polygon: [[0,0],[1,0],[1,1]], " \
                    "dwell_s: 5}]\n"

/* so_config_print_summary() as a malloc()ed text (caller frees). */
static char *summary_of(const struct so_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    so_config_print_summary(cfg, mem);
    fclose(mem);
    return buf;
}

struct err_case {
    const char *name;
    const char *yaml;   /* NULL: load a file that does not exist */
    int line, column;
    const char *key;    /* substring of the key path */
    const char *message;/* substring of the message */
    int count;          /* exact number of errors expected; -1: do not check */
};

static const struct err_case err_cases[] = {
    /* YAML syntax */
    {"syntax error", HEAD "        kind: illegal: parking\n" POLY DWELL, 6, 22, "",
     "YAML syntax error: mapping values are not allowed", 1},
    {"syntax error, unclosed flow", HEAD KIND "        polygon: [[0.1,0.1]\n" DWELL, 8, 9, "",
     "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence "
     "started at line 7, column 18)", 1},
    /* unknown keys */
    {"unknown key, did you mean", HEAD KIND POLY "        dwel_s: 60\n", 8, 9,
     "cameras[0].zones[0].dwel_s", "unknown key \"dwel_s\" (did you mean \"dwell_s\"?)", 2},
    {"unknown key, allowed list", "foo: 1\n" VALID, 1, 1, "foo",
     "unknown key \"foo\"; allowed keys are detector, outputs, http, cameras", 1},
    {"duplicate key", VALID "        dwell_s: 70\n", 9, 9, "cameras[0].zones[0].dwell_s",
     "duplicate key \"dwell_s\" (first given at line 8)", 1},
    /* wrong types */
    {"wrong type: mapping expected", "detector: [a, b]\n" VALID, 1, 11, "detector",
     "expected a mapping (keys: id, state_dir, model, backend, weights_dir, timezone, "
     "categories), got a list", 1},
    {"backend unknown", "detector: {backend: tflite}\n" VALID, 1, 21, "detector.backend",
     "expected xnnpack or opencv, got \"tflite\"", 1},
    {"categories file missing", "detector: {categories: nope.yaml}\n" VALID, 1, 24,
     "detector.categories", "expected a readable category mapping file, got \"nope.yaml\" (/",
     1},
    {"http.auth file missing", "http: {listen: \"127.0.0.1:1\", auth: nope.users}\n" VALID, 1,
     37, "http.auth", "expected a readable users file (NAME ROLE HASH lines), got \"nope.users\"",
     1},
    {"http.tls_cert without tls_key", "http: {tls_cert: /dev/null}\n" VALID, 1, 18,
     "http.tls_key", "expected tls_cert and tls_key together", 1},
    {"http unknown key", "http: {users: x}\n" VALID, 1, 8, "http.users",
     "allowed keys are listen, auth, tls_cert, tls_key", 1},
    {"wrong type: sequence expected", HEAD KIND "        polygon: {x: 1}\n" DWELL, 7, 18,
     "cameras[0].zones[0].polygon", "expected a list of at least 3 points", 1},
    {"wrong type: number expected", HEAD KIND POLY "        dwell_s: abc\n", 8, 18,
     "cameras[0].zones[0].dwell_s", "expected a number from 1 to 86400, got \"abc\"", 1},
    {"wrong type: boolean is not a number", VALID "        min_occupancy: true\n", 9, 24,
     "zones[0].min_occupancy", "expected a number greater than 0 and at most 1, got \"true\"",
     1},
    {"wrong type: string expected", "cameras:\n  - id: cam1\n    url: {a: 1}\n" SMALL_ZONES, 3,
     10, "cameras[0].url", "expected the stream URL or a file path, got a mapping", 1},
    {"wrong type: cameras not a list", "cameras: {id: x}\n", 1, 10, "cameras",
     "expected a list of cameras, got a mapping", 1},
    /* missing required keys: reported at the mapping that lacks them */
    {"missing zone kind", HEAD POLY DWELL, 5, 9, "cameras[0].zones[0].kind",
     "missing required key \"kind\"", 1},
    {"missing dwell_s", HEAD KIND POLY, 5, 9, "cameras[0].zones[0].dwell_s",
     "missing required key \"dwell_s\" (expected a number from 1 to 86400)", 1},
    {"missing camera url", "cameras:\n  - id: cam1\n" SMALL_ZONES, 2, 5, "cameras[0].url",
     "missing required key \"url\"", 1},
    {"missing cameras", "detector: {id: x}\n", 1, 1, "cameras",
     "missing required key \"cameras\"", 1},
    /* polygons */
    {"polygon with 2 points", HEAD KIND "        polygon: [[0.1,0.1],[0.9,0.1]]\n" DWELL, 7, 18,
     "cameras[0].zones[0].polygon", "expected at least 3 points, got 2", 1},
    {"self-intersecting polygon",
     HEAD KIND "        polygon: [[0.1,0.1],[0.9,0.9],[0.9,0.1],[0.1,0.9]]\n" DWELL, 7, 18,
     "cameras[0].zones[0].polygon",
     "expected a simple polygon (edges must not cross or touch), but the edge from point 0 "
     "to 1 meets the edge from point 2 to 3", 1},
    {"polygon with a repeated point",
     HEAD KIND "        polygon: [[0.1,0.1],[0.9,0.1],[0.9,0.1],[0.1,0.9]]\n" DWELL, 7, 18,
     "zones[0].polygon", "points 1 and 2 are the same", 1},
    {"coordinate above 1", HEAD KIND "        polygon: [[0.1,0.1],[1.5,0.1],[0.9,0.9]]\n" DWELL,
     7, 30, "cameras[0].zones[0].polygon[1][0]", "expected a number from 0 to 1, got \"1.5\"",
     1},
    {"coordinate below 0", HEAD KIND "        polygon: [[0.1,0.1],[0.5,-0.2],[0.9,0.9]]\n" DWELL,
     7, 34, "polygon[1][1]", "expected a number from 0 to 1, got \"-0.2\"", 1},
    {"point not a pair", HEAD KIND "        polygon: [[0.1,0.1],[0.9],[0.9,0.9],[0.1,0.9]]\n"
     DWELL, 7, 29, "cameras[0].zones[0].polygon[1]",
     "expected a point [x, y] of two numbers from 0 to 1, got a list of 1 item", 1},
    {"point a scalar", HEAD KIND "        polygon: [[0.1,0.1],0.9,[0.9,0.9],[0.1,0.9]]\n" DWELL,
     7, 29, "polygon[1]", "expected a point [x, y] of two numbers from 0 to 1, got \"0.9\"", 1},
    {"privacy mask self-intersecting",
     VALID "    privacy_masks: [[[0,0],[1,1],[1,0],[0,1]]]\n", 9, 21,
     "cameras[0].privacy_masks[0]", "expected a simple polygon", 1},
    /* duplicates */
    {"duplicate camera id",
     "cameras:\n  - id: cam1\n    url: a.mp4\n" SMALL_ZONES
     "  - id: cam1\n    url: b.mp4\n" SMALL_ZONES, 5, 9, "cameras[1].id",
     "duplicate camera id \"cam1\" (first defined at line 2)", 1},
    {"duplicate zone id", VALID "      - id: z1\n" KIND POLY DWELL, 9, 13,
     "cameras[0].zones[1].id", "duplicate zone id \"z1\" in camera \"cam1\" (first defined at "
     "line 5)", 1},
    /* schedules */
    {"bad schedule string", VALID "        schedule: \"monday 7-20\"\n", 9, 19,
     "cameras[0].zones[0].schedule",
     "expected \"DAYS HH:MM-HH:MM\" with DAYS like mon-fri or sat,sun, got \"monday 7-20\"", 1},
    {"bad schedule in a list",
     VALID "        schedule: [\"mon-fri 07:00-20:00\", \"xyz 07:00-08:00\"]\n", 9, 43,
     "cameras[0].zones[0].schedule[1]", "unknown day \"xyz\"", 1},
    {"schedule not a string", VALID "        schedule: {mon: 1}\n", 9, 19, "zones[0].schedule",
     "expected a window like \"mon-fri 07:00-20:00\" or a list of them, got a mapping", 1},
    /* numeric ranges */
    {"dwell_s zero", HEAD KIND POLY "        dwell_s: 0\n", 8, 18, "cameras[0].zones[0].dwell_s",
     "expected a number from 1 to 86400, got \"0\"", 1},
    {"dwell_s too long", HEAD KIND POLY "        dwell_s: 86401\n", 8, 18, "dwell_s",
     "expected a number from 1 to 86400, got \"86401\"", 1},
    {"min_occupancy zero", VALID "        min_occupancy: 0\n", 9, 24, "zones[0].min_occupancy",
     "expected a number greater than 0 and at most 1, got \"0\"", 1},
    {"min_occupancy above 1", VALID "        min_occupancy: 1.5\n", 9, 24, "min_occupancy",
     "expected a number greater than 0 and at most 1, got \"1.5\"", 1},
    {"negative report_interval_s", VALID "        report_interval_s: -1\n", 9, 28,
     "cameras[0].zones[0].report_interval_s", "expected a number >= 0, got \"-1\"", 1},
    {"negative clear_s", VALID "        clear_s: -5\n", 9, 18, "cameras[0].zones[0].clear_s",
     "expected a number >= 0, got \"-5\"", 1},
    {"analysis.fps negative", VALID "    analysis: {fps: -1}\n", 9, 21, "cameras[0].analysis.fps",
     "expected a number from 0 to 60, got \"-1\"", 1},
    {"analysis.fps too high", VALID "    analysis: {fps: 61}\n", 9, 21, "analysis.fps",
     "expected a number from 0 to 60, got \"61\"", 1},
    {"analysis.width too small", VALID "    analysis: {width: 8}\n", 9, 23,
     "cameras[0].analysis.width", "expected an integer from 16 to 4096, got \"8\"", 1},
    {"analysis.width not an integer", VALID "    analysis: {width: 640.5}\n", 9, 23,
     "analysis.width", "expected an integer from 16 to 4096, got \"640.5\"", 1},
    {"detect_fps too high", VALID "    analysis: {detect_fps: 31}\n", 9, 28,
     "cameras[0].analysis.detect_fps", "expected a number from 0 to 30, got \"31\"", 1},
    {"negative drain_s", "outputs: {deliver: {drain_s: -1}}\n" VALID, 1, 30,
     "outputs.deliver.drain_s", "expected a number >= 0, got \"-1\"", 1},
    {"quota_mb zero", "outputs: {deliver: {quota_mb: 0}}\n" VALID, 1, 31,
     "outputs.deliver.quota_mb", "expected a number greater than 0 and at most 65536, got \"0\"", 1},
    {"fsync not a bool", "outputs: {deliver: {fsync: sometimes}}\n" VALID, 1, 28,
     "outputs.deliver.fsync", "expected true or false, got \"sometimes\"", 1},
    {"server_key too short", "outputs: {deliver: {server_key: abc}}\n" VALID, 1, 33,
     "outputs.deliver.server_key", "expected a 40-character Z85 CURVE key", 1},
    {"public_key without secret_key", "outputs: {deliver: {server_key: \"" KEY "\", "
     "public_key: \"" KEY "\"}}\n" VALID, 1, 89, "outputs.deliver.secret_key",
     "expected public_key and secret_key together", 1},
    /* enumerations and codes */
    {"bad kind", HEAD "        kind: parking\n" POLY DWELL, 6, 15, "cameras[0].zones[0].kind",
     "expected one of illegal_parking, nonmotor_parking, sidewalk_occupied, "
     "stall_encroachment, got \"parking\"", 1},
    {"bad kind, did you mean", HEAD "        kind: ilegal_parking\n" POLY DWELL, 6, 15, "kind",
     "(did you mean \"illegal_parking\"?)", 1},
    {"grid too short", VALID "        grid: \"12345\"\n", 9, 15, "cameras[0].zones[0].grid",
     "expected a grid cell code of exactly 15 digits, got \"12345\"", 1},
    {"grid with letters", VALID "        grid: \"62010200100100A\"\n", 9, 15, "zones[0].grid",
     "exactly 15 digits", 1},
    {"category not 4 digits", VALID "        category: \"54\"\n", 9, 19, "zones[0].category",
     "expected a category code of exactly 4 digits like \"0504\", got \"54\"", 1},
    {"classes not a list", VALID "        classes: car\n", 9, 18, "zones[0].classes",
     "expected a list of detector class names like [car, truck, bus], got \"car\"", 1},
    {"class not lower case", VALID "        classes: [car, Bus]\n", 9, 24,
     "zones[0].classes[1]", "expected a class name in lower case like \"car\", got \"Bus\"", 1},
    {"min_score above 1", VALID "        min_score: 1.5\n", 9, 20, "zones[0].min_score",
     "got \"1.5\"", 1},
    {"max_box below min_box", VALID "        min_box: 50\n        max_box: 10\n", 10, 18,
     "zones[0].max_box", "expected max_box >= min_box (50), got 10", 1},
    {"warn_s not below dwell_s", VALID "        warn_s: 60\n", 9, 17, "zones[0].warn_s",
     "expected warn_s less than dwell_s (60), got 60", 1},
    {"warn_s above dwell_s", HEAD KIND POLY "        warn_s: 90\n" DWELL, 8, 17,
     "cameras[0].zones[0].warn_s", "expected warn_s less than dwell_s (60), got 90", 1},
    {"bad decode", VALID "    decode: all\n", 9, 13, "cameras[0].decode",
     "expected full or keyframes, got \"all\"", 1},
    {"bad camera id", "cameras:\n  - id: cam 1\n    url: a.mp4\n" SMALL_ZONES, 2, 9,
     "cameras[0].id", "expected an id of 1 to 64 letters, digits, '_', '.' or '-'", 1},
    {"publish not an endpoint", "outputs: {publish: localhost}\n" VALID, 1, 20,
     "outputs.publish", "expected a ZeroMQ endpoint like \"tcp://127.0.0.1:5556\"", 1},
    {"http listen without port", "http: {listen: localhost}\n" VALID, 1, 16, "http.listen",
     "expected HOST:PORT like \"127.0.0.1:8080\", got \"localhost\"", 1},
    /* files and documents */
    {"missing file", NULL, 0, 0, "", "cannot read: No such file or directory", 1},
    {"invalid UTF-8", "cameras:\n  - id: caf\xe9\n", 2, 12, "",
     "YAML error: incomplete UTF-8 octet sequence", 1},
    {"empty file", "", 0, 0, "", "the file is empty: expected a mapping", 1},
    {"only comments", "# nothing here\n", 0, 0, "", "the file is empty", 1},
    {"document not a mapping", "- a\n- b\n", 1, 1, "",
     "expected a mapping at the top of the file (keys: detector, outputs, http, cameras), "
     "got a list of 2 items", 1},
    {"document a scalar", "hello\n", 1, 1, "", "expected a mapping at the top of the file", 1},
    {"two documents", VALID "---\nfoo: 1\n", 10, 1, "", "expected one YAML document", 1},
    {"cameras empty", "cameras: []\n", 1, 10, "cameras",
     "expected at least one camera, got an empty list", 1},
    {"zones empty", "cameras:\n  - id: c\n    url: a.mp4\n    zones: []\n", 4, 12,
     "cameras[0].zones", "expected at least one zone, got an empty list", 1},
};

static void test_error_table(void)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *c = &err_cases[i];
        struct so_config_errors errors = {0};
        struct so_config *cfg;
        if (c->yaml) {
            cfg = load_text(c->yaml, &errors, path);
        } else {
            cfg = so_config_load("/nonexistent/streetorder/config.yaml", &errors);
        }
        so_test_check(cfg == NULL, __FILE__, __LINE__, "%s: load fails", c->name);
        bool found = has_error(&errors, c->line, c->column, c->key, c->message);
        so_test_check(found, __FILE__, __LINE__, "%s: error at %d:%d, key ~ \"%s\", message ~ "
                      "\"%s\"", c->name, c->line, c->column, c->key, c->message);
        if (c->count >= 0) {
            so_test_check((int)errors.n == c->count, __FILE__, __LINE__,
                          "%s: %d error(s) (got %zu)", c->name, c->count, errors.n);
        }
        if (!found || (c->count >= 0 && (int)errors.n != c->count)) {
            so_test_dump_errors(&errors);
        }
        so_config_destroy(cfg);
        so_config_errors_finish(&errors);
    }
}

static void test_many_errors(void)
{
    static const char yaml[] =
        "detecter: {id: x}\n"                                        /* 1 unknown key */
        "cameras:\n"                                                 /* 2 */
        "  - id: cam1\n"                                             /* 3 */
        "    url: a.mp4\n"                                           /* 4 */
        "    analysis: {fps: 100}\n"                                 /* 5 fps */
        "    zones:\n"                                               /* 6 */
        "      - id: z1\n"                                           /* 7 */
        "        kind: parking\n"                                    /* 8 bad kind */
        "        polygon: [[0,0],[2,0],[1,1]]\n"                     /* 9 coordinate */
        "        dwell_s: 0\n"                                       /* 10 dwell */
        "        schedule: [\"mon-fri 07:00-20:00\", \"weekends\"]\n" /* 11 schedule */
        "      - id: z1\n"                                           /* 12 duplicate zone */
        "        kind: sidewalk_occupied\n"                          /* 13 */
        "        polygon: [[0,0],[1,1],[1,0],[0,1]]\n"               /* 14 bow-tie */
        "        dwell_s: 10\n"                                      /* 15 */
        "  - url: b.mp4\n"                                           /* 16 missing id */
        "    zones: []\n";                                           /* 17 empty zones */
    char path[PATH_MAX];
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_text(yaml, &errors, path);
    CHECK(cfg == NULL);
    CHECK_INT(errors.n, 10);
    CHECK(has_error(&errors, 1, 1, "detecter", "did you mean \"detector\""));
    CHECK(has_error(&errors, 5, 21, "cameras[0].analysis.fps", "from 0 to 60"));
    CHECK(has_error(&errors, 8, 15, "cameras[0].zones[0].kind", "expected one of"));
    CHECK(has_error(&errors, 9, 26, "cameras[0].zones[0].polygon[1][0]", "from 0 to 1"));
    CHECK(has_error(&errors, 10, 18, "cameras[0].zones[0].dwell_s", "from 1 to 86400"));
    CHECK(has_error(&errors, 11, 43, "cameras[0].zones[0].schedule[1]", "DAYS HH:MM-HH:MM"));
    CHECK(has_error(&errors, 12, 13, "cameras[0].zones[1].id", "duplicate zone id"));
    CHECK(has_error(&errors, 14, 18, "cameras[0].zones[1].polygon", "simple polygon"));
    CHECK(has_error(&errors, 16, 5, "cameras[1].id", "missing required key \"id\""));
    CHECK(has_error(&errors, 17, 12, "cameras[1].zones", "at least one zone"));
    /* in file order */
    bool sorted = true;
    for (size_t i = 1; i < errors.n; i++) {
        const struct so_config_error *a = &errors.items[i - 1], *b = &errors.items[i];
        sorted = sorted && (a->line < b->line || (a->line == b->line && a->column <= b->column));
    }
    CHECK(sorted);
    if (errors.n != 10) {
        so_test_dump_errors(&errors);
    }
    so_config_errors_finish(&errors);
}

/* detector.backend: the names so_detect_backend_parse() knows; absent = the build's default */
static void test_backend(void)
{
    static const char *const names[] = {"opencv", "xnnpack"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char yaml[512], path[PATH_MAX];
        snprintf(yaml, sizeof(yaml), "detector: {model: yolo-fastest-1.1, backend: %s}\n%s",
                 names[i], VALID);
        struct so_config_errors errors = {0};
        struct so_config *cfg = load_text(yaml, &errors, path);
        CHECK(cfg != NULL);
        CHECK_INT(errors.n, 0);
        CHECK_STR(cfg ? cfg->backend : NULL, names[i]);
        so_config_destroy(cfg);
        so_config_errors_finish(&errors);
    }
}

static void test_full_config(void)
{
    static const char yaml[] =
        "detector:\n"
        "  id: nvr-07\n"
        "  state_dir: /srv/so\n"
        "  model: yolo-fastest-1.1-xl\n"
        "  weights_dir: /opt/w\n"
        "  timezone: Asia/Shanghai\n"
        "outputs:\n"
        "  jsonl: events.jsonl\n"
        "  publish: \"tcp://127.0.0.1:5556\"\n"
        "  evidence_dir: /srv/so/ev\n"
        "  deliver: {endpoint: \"tcp://platform:5560\", drain_s: 2.5, quota_mb: 64, fsync: no, "
        "server_key: \"" KEY "\", public_key: \"" KEY "\", secret_key: \"" KEY "\"}\n"
        "http: {listen: \"127.0.0.1:8080\"}\n"
        "cameras:\n"
        "  - id: cam-023\n"                                                  /* line 14 */
        "    url: rtsp://user:pass@192.0.2.10/ch23/sub\n"
        "    evidence_url: rtsp://user:pass@192.0.2.10/ch23/main\n"
        "    decode: keyframes\n"
        "    analysis: {fps: 2.5, width: 960, detect_fps: 0}\n"
        "    privacy_masks:\n"
        "      - [[0.7, 0], [1, 0], [1, 0.25]]\n"
        "    zones:\n"
        "      - id: bay-a\n"                                                /* line 22 */
        "        kind: illegal_parking\n"
        "        polygon: [[0.10,0.60],[0.45,0.60],[0.45,0.95],[0.10,0.95]]\n"
        "        dwell_s: 180\n"
        "        min_occupancy: 0.5\n"
        "        schedule: [\"mon-fri 07:00-20:00\", \"sat-sun 09:00-18:00\"]\n"
        "        report_interval_s: 0\n"
        "        clear_s: 15\n"
        "        grid: 620102001001001\n"
        "        address: \"永定路东口北侧\"\n"
        "        category: \"0505\"\n"
        "      - id: walk\n"
        "        kind: sidewalk_occupied\n"
        "        polygon: [[0,0],[1,0],[1,1]]\n"
        "        dwell_s: 1\n"
        "        schedule: \"sun 22:00-06:00\"\n"
        "      - {id: stall, kind: stall_encroachment, polygon: [[0,0],[1,0],[0,1]], "
        "dwell_s: 86400}\n"
        "      - {id: bikes, kind: nonmotor_parking, polygon: [[0,0],[1,0],[0,1]], dwell_s: 5, "
        "classes: [bicycle], min_score: 0.4, min_box: 8, max_box: 200}\n"
        "  - id: cam2\n"
        "    url: clips/street.mp4\n"
        "    zones: [{id: bay-a, kind: illegal_parking, polygon: [[0,0],[1,0],[0,1]], "
        "dwell_s: 60}]\n";
    char path[PATH_MAX];
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_text(yaml, &errors, path);
    CHECK(cfg != NULL);
    CHECK_INT(errors.n, 0);
    so_test_dump_errors(&errors);
    so_config_errors_finish(&errors);
    if (!cfg) {
        return;
    }
    CHECK_STR(cfg->path, path);
    CHECK_STR(cfg->detector_id, "nvr-07");
    CHECK_STR(cfg->state_dir, "/srv/so");
    CHECK_STR(cfg->model, "yolo-fastest-1.1-xl");
    CHECK(cfg->backend == NULL);
    CHECK_STR(cfg->weights_dir, "/opt/w");
    CHECK_STR(cfg->timezone, "Asia/Shanghai");
    CHECK_STR(cfg->jsonl, "events.jsonl");
    CHECK_STR(cfg->publish, "tcp://127.0.0.1:5556");
    CHECK_STR(cfg->evidence_dir, "/srv/so/ev");
    CHECK_STR(cfg->deliver.endpoint, "tcp://platform:5560");
    CHECK_DBL(cfg->deliver.drain_s, 2.5, 0);
    CHECK_DBL(cfg->deliver.quota_mb, 64, 0);
    CHECK(!cfg->deliver.fsync);
    CHECK_STR(cfg->deliver.server_key, KEY);
    CHECK_STR(cfg->http_listen, "127.0.0.1:8080");
    CHECK_INT(cfg->n_cameras, 2);

    const struct so_camera_cfg *cam = so_config_find_camera(cfg, "cam-023");
    CHECK(cam == &cfg->cameras[0]);
    CHECK(so_config_find_camera(cfg, "nope") == NULL);
    if (!cam) {
        so_config_destroy(cfg);
        return;
    }
    CHECK_INT(cam->line, 14);
    CHECK_INT(cam->column, 5);
    CHECK_STR(cam->url, "rtsp://user:pass@192.0.2.10/ch23/sub");
    CHECK_STR(cam->resolved_url, "rtsp://user:pass@192.0.2.10/ch23/sub");
    CHECK_STR(cam->evidence_url, "rtsp://user:pass@192.0.2.10/ch23/main");
    CHECK_INT(cam->decode, SO_DECODE_KEYFRAMES);
    CHECK_DBL(cam->analysis.fps, 2.5, 0);
    CHECK_INT(cam->analysis.width, 960);
    CHECK_DBL(cam->analysis.detect_fps, 0, 0);
    CHECK_INT(cam->n_privacy_masks, 1);
    CHECK_INT(cam->privacy_masks[0].n, 3);
    CHECK_DBL(cam->privacy_masks[0].pts[2].y, 0.25, 0);
    CHECK_INT(cam->n_zones, 4);

    const struct so_zone_cfg *z = so_camera_find_zone(cam, "bay-a");
    CHECK(z == &cam->zones[0]);
    CHECK(so_camera_find_zone(cam, "nope") == NULL);
    CHECK_INT(z->line, 22);
    CHECK_INT(z->column, 9);
    CHECK_INT(z->kind, SO_ZONE_ILLEGAL_PARKING);
    CHECK_INT(z->polygon.n, 4);
    CHECK_DBL(z->polygon.pts[1].x, 0.45, 0);
    CHECK_DBL(z->polygon.pts[3].y, 0.95, 0);
    CHECK_DBL(z->dwell_s, 180, 0);
    CHECK_DBL(z->min_occupancy, 0.5, 0);
    CHECK_DBL(z->report_interval_s, 0, 0);
    CHECK_DBL(z->clear_s, 15, 0);
    CHECK(!z->schedule.always);
    CHECK(so_schedule_active_at(&z->schedule, 0 * 1440 + 7 * 60));      /* mon 07:00 */
    CHECK(!so_schedule_active_at(&z->schedule, 0 * 1440 + 20 * 60));    /* mon 20:00 */
    CHECK(so_schedule_active_at(&z->schedule, 6 * 1440 + 9 * 60));      /* sun 09:00 */
    CHECK(!so_schedule_active_at(&z->schedule, 5 * 1440 + 8 * 60));     /* sat 08:00 */
    CHECK_STR(z->grid, "620102001001001"); /* unquoted: its text is kept */
    CHECK_STR(z->address, "永定路东口北侧");
    CHECK_STR(z->category, "0505");

    z = &cam->zones[1];
    CHECK_STR(z->id, "walk");
    CHECK_INT(z->kind, SO_ZONE_SIDEWALK_OCCUPIED);
    CHECK_DBL(z->dwell_s, 1, 0);
    CHECK(so_schedule_active_at(&z->schedule, 0 * 1440 + 3 * 60));      /* mon 03:00 */
    CHECK(!so_schedule_active_at(&z->schedule, 6 * 1440 + 3 * 60));     /* sun 03:00 */
    /* defaults */
    CHECK_DBL(z->min_occupancy, 0.02, 0);
    CHECK_DBL(z->report_interval_s, 60, 0);
    CHECK_DBL(z->clear_s, 10, 0);
    CHECK(z->grid == NULL);
    CHECK(z->address == NULL);
    CHECK(z->category == NULL);
    CHECK(z->classes == NULL && z->n_classes == 0);
    CHECK_DBL(z->min_score, 0, 0);
    CHECK_INT(z->min_box, 0);
    CHECK_INT(z->max_box, 0);
    CHECK_INT(cam->zones[2].kind, SO_ZONE_STALL_ENCROACHMENT);
    CHECK_DBL(cam->zones[2].dwell_s, 86400, 0);
    CHECK(cam->zones[2].schedule.always);
    CHECK_INT(cam->zones[3].kind, SO_ZONE_NONMOTOR_PARKING);
    CHECK_INT(cam->zones[3].n_classes, 1);
    CHECK_STR(cam->zones[3].n_classes ? cam->zones[3].classes[0] : NULL, "bicycle");
    CHECK_DBL(cam->zones[3].min_score, 0.4, 1e-9);
    CHECK_INT(cam->zones[3].min_box, 8);
    CHECK_INT(cam->zones[3].max_box, 200);

    /* second camera: defaults, relative url, same zone id in another camera is fine */
    const struct so_camera_cfg *c2 = &cfg->cameras[1];
    char dir[PATH_MAX], expect[PATH_MAX + 32];
    CHECK(realpath("/tmp", dir) != NULL);
    snprintf(expect, sizeof(expect), "%s/clips/street.mp4", dir);
    CHECK_STR(c2->url, "clips/street.mp4");
    CHECK_STR(c2->resolved_url, expect);
    CHECK_STR(cfg->dir, dir);
    CHECK(c2->evidence_url == NULL);
    CHECK_INT(c2->decode, SO_DECODE_FULL);
    CHECK_DBL(c2->analysis.fps, 0, 0);     /* absent */
    CHECK_DBL(c2->analysis.rate, 2, 0);    /* from its one zone's dwell of 60 s: the floor */
    CHECK_DBL(cam->analysis.rate, 2.5, 0); /* as written */
    CHECK_INT(c2->analysis.width, 640);
    CHECK_DBL(c2->analysis.detect_fps, 1, 0);
    CHECK_INT(c2->n_privacy_masks, 0);
    CHECK_STR(c2->zones[0].id, "bay-a");

    /* summary: readable and never shows credentials */
    char *buf = summary_of(cfg);
    CHECK_CONTAINS(buf, "camera cam-023: rtsp://***@192.0.2.10/ch23/sub");
    CHECK_CONTAINS(buf, "evidence: rtsp://***@192.0.2.10/ch23/main");
    CHECK(strstr(buf, "user:pass") == NULL);
    CHECK_CONTAINS(buf, "zone bay-a: illegal_parking, 4 points");
    CHECK_CONTAINS(buf, "enforced: mon-fri 07:00-20:00, sat,sun 09:00-18:00");
    CHECK_CONTAINS(buf, "grid 620102001001001, address 永定路东口北侧");
    CHECK_CONTAINS(buf, "decode keyframes, analysis 2.5 fps at width 960");
    CHECK_CONTAINS(buf, "decode full, analysis 2 fps (from the zones) at width 640");
    free(buf);
    so_config_destroy(cfg);
}

static void test_defaults(void)
{
    char path[PATH_MAX];
    struct so_config_errors errors = {0};
    setenv("XDG_STATE_HOME", "/tmp/so-xdg", 1);
    struct so_config *cfg = load_text(VALID, &errors, path);
    CHECK(cfg != NULL);
    CHECK_INT(errors.n, 0);
    so_config_errors_finish(&errors);
    if (!cfg) {
        return;
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    CHECK_STR(cfg->detector_id, host);
    CHECK_STR(cfg->state_dir, geteuid() == 0 ? "/var/lib/streetorder" : "/tmp/so-xdg/streetorder");
    CHECK(cfg->model == NULL);
    CHECK(cfg->backend == NULL);
    CHECK(cfg->weights_dir == NULL);
    CHECK(cfg->timezone == NULL);
    CHECK(cfg->jsonl == NULL);
    CHECK(cfg->publish == NULL);
    CHECK(cfg->evidence_dir == NULL);
    CHECK(cfg->deliver.endpoint == NULL);
    CHECK_DBL(cfg->deliver.drain_s, 10, 0);
    CHECK_DBL(cfg->deliver.quota_mb, 1024, 0);
    CHECK(cfg->deliver.fsync);
    CHECK(cfg->deliver.server_key == NULL);
    CHECK(cfg->http_listen == NULL);
    /* the source tree's mapping file (so_build_config.h) when detector.categories is absent */
    CHECK_STR(cfg->categories_path, SO_SOURCE_DIR "/config/categories.yaml");
    CHECK(cfg->categories != NULL);
    CHECK_INT(cfg->cameras[0].n_zones, 1);
    CHECK(cfg->cameras[0].zones[0].schedule.always);
    so_config_destroy(cfg);

    if (geteuid() != 0) {
        unsetenv("XDG_STATE_HOME");
        setenv("HOME", "/home/someone", 1);
        cfg = load_text(VALID, &errors, path);
        CHECK(cfg && strcmp(cfg->state_dir, "/home/someone/.local/state/streetorder") == 0);
        so_config_destroy(cfg);
        so_config_errors_finish(&errors);
    }

    /* null values count as absent; a single quoted number is accepted */
    cfg = load_text("detector: {model: ~, timezone: }\n" HEAD KIND POLY
                    "        dwell_s: \"30\"\n", &errors, path);
    CHECK(cfg != NULL);
    so_test_dump_errors(&errors);
    if (cfg) {
        CHECK(cfg->model == NULL);
        CHECK(cfg->timezone == NULL);
        CHECK_DBL(cfg->cameras[0].zones[0].dwell_s, 30, 0);
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
}

/* The zones of a camera in the folder tests below: one triangle. */
#define ONE_ZONE "[{id: z, kind: illegal_parking, polygon: [[0,0],[1,0],[0,1]], dwell_s: 5}]}\n"
#define ONE_CAMERA "cameras:\n  - {id: a, url: clip.mp4, zones: " ONE_ZONE

/* Load a config file expected to be valid (its errors shown when it is not). */
static struct so_config *load_valid(const char *path, struct so_config_errors *errors)
{
    struct so_config *cfg = so_config_load(path, errors);
    CHECK(cfg != NULL);
    so_test_dump_errors(errors);
    return cfg;
}

static void test_url_resolution(void)
{
    /* A config in a sub-folder: relative urls join that folder, others are kept. */
    char dir[PATH_MAX], path[PATH_MAX + 16];
    so_test_temp_dir(dir);
    snprintf(path, sizeof(path), "%s/cams.yaml", dir);
    so_test_write_file(path, "cameras:\n"
          "  - {id: a, url: clip.mp4, evidence_url: ../hi/clip.mp4, zones: "
          ONE_ZONE
          "  - {id: b, url: /data/clip.mp4, zones: "
          ONE_ZONE
          "  - {id: c, url: \"rtsp://10.0.0.1/x\", evidence_url: \"file:///srv/x.mp4\", zones: "
          ONE_ZONE);
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_valid(path, &errors);
    if (cfg) {
        char real[PATH_MAX], expect[PATH_MAX + 32];
        CHECK(realpath(dir, real) != NULL);
        snprintf(expect, sizeof(expect), "%s/clip.mp4", real);
        CHECK_STR(cfg->cameras[0].resolved_url, expect);
        snprintf(expect, sizeof(expect), "%s/../hi/clip.mp4", real);
        CHECK_STR(cfg->cameras[0].evidence_url, expect);
        CHECK_STR(cfg->cameras[1].resolved_url, "/data/clip.mp4");
        CHECK_STR(cfg->cameras[2].resolved_url, "rtsp://10.0.0.1/x");
        CHECK_STR(cfg->cameras[2].evidence_url, "file:///srv/x.mp4");
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
    so_test_rm_rf(dir);
}

static void test_print_errors(void)
{
    char path[PATH_MAX], line1[PATH_MAX + 128], line2[PATH_MAX + 128];
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_text(HEAD KIND POLY "        dwell_s: 0\n", &errors, path);
    CHECK(cfg == NULL);
    so_config_load("/nonexistent/x.yaml", &errors); /* appends to the same list */
    CHECK_INT(errors.n, 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    so_config_errors_print(&errors, mem);
    fclose(mem);
    snprintf(line1, sizeof(line1), "%s:8:18: cameras[0].zones[0].dwell_s: expected a number "
             "from 1 to 86400, got \"0\"\n", path);
    snprintf(line2, sizeof(line2), "/nonexistent/x.yaml: cannot read: No such file or "
             "directory\n");
    CHECK_CONTAINS(buf, line1);
    CHECK_CONTAINS(buf, line2);
    CHECK_INT(len, strlen(line1) + strlen(line2));
    free(buf);
    so_config_errors_finish(&errors);
    CHECK_INT(errors.n, 0);
    so_config_errors_finish(&errors); /* idempotent */
}

static void test_kinds(void)
{
    const char *names[] = {"illegal_parking", "nonmotor_parking", "sidewalk_occupied",
                           "stall_encroachment"};
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        enum so_zone_kind parsed = SO_ZONE_KIND_COUNT;
        CHECK_STR(so_zone_kind_name((enum so_zone_kind)k), names[k]);
        CHECK(so_zone_kind_parse(names[k], &parsed));
        CHECK_INT(parsed, k);
    }
    CHECK(so_zone_kind_name(SO_ZONE_KIND_COUNT) == NULL);
    CHECK(!so_zone_kind_parse("parking", NULL));
    CHECK(!so_zone_kind_parse(NULL, NULL));
    so_config_destroy(NULL);

    /* a folder is not a config file */
    struct so_config_errors errors = {0};
    CHECK(so_config_load("/tmp", &errors) == NULL);
    CHECK_INT(errors.n, 1);
    CHECK_STR(errors.items[0].message, "cannot read: Is a directory");
    CHECK_INT(errors.items[0].line, 0);
    so_config_errors_finish(&errors);
}

/* A fresh folder `dir` with the names of a config in it (path, "cams.yaml") and of a file it
 * names (side, `side_name`); both PATH_MAX + 16 bytes. */
static void temp_config_dir(char *dir, char *path, char *side, const char *side_name)
{
    so_test_temp_dir(dir);
    snprintf(path, PATH_MAX + 16, "%s/cams.yaml", dir);
    snprintf(side, PATH_MAX + 16, "%s/%s", dir, side_name);
}

/* detector.categories: resolved against the config's folder, loaded, its errors reported with
 * its own file name after the config's. */
static void test_categories_key(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], cats[PATH_MAX + 16];
    temp_config_dir(dir, path, cats, "city.yaml");
    so_test_write_file(cats, "categories:\n"
          "  \"0505\": {local_code: \"110105050\", local_name: 机动车违停}\n");
    so_test_write_file(path, "detector: {categories: city.yaml}\n"
          ONE_CAMERA);
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_valid(path, &errors);
    if (cfg) {
        char real[PATH_MAX], expect[PATH_MAX + 32];
        CHECK(realpath(dir, real) != NULL);
        snprintf(expect, sizeof(expect), "%s/city.yaml", real);
        CHECK_STR(cfg->categories_path, expect);
        struct so_category c;
        CHECK(so_categories_lookup(cfg->categories, "0505", &c));
        CHECK_STR(c.local_code, "110105050");
        CHECK_STR(c.local_name, "机动车违停");
        CHECK(so_categories_lookup(cfg->categories, "0506", &c) && c.local_code == NULL);
        char *summary = summary_of(cfg);
        CHECK_CONTAINS(summary, "categories: ");
        CHECK_CONTAINS(summary, "city.yaml (1 code with a local code or name)");
        free(summary);
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);

    /* Errors in both files: every one, the config's first, each with its own file. */
    so_test_write_file(cats, "categories:\n  \"505\": {local_code: x}\n");
    so_test_write_file(path, "detector: {categories: city.yaml, id: \"bad id\"}\n"
          ONE_CAMERA);
    cfg = so_config_load(path, &errors);
    CHECK(cfg == NULL);
    CHECK_INT(errors.n, 2);
    if (errors.n == 2) {
        CHECK_STR(errors.items[0].file, path);
        CHECK_STR(errors.items[0].key, "detector.id");
        CHECK_CONTAINS(errors.items[1].file, "city.yaml");
        CHECK_INT(errors.items[1].line, 2);
        CHECK_INT(errors.items[1].column, 3);
        CHECK_CONTAINS(errors.items[1].message, "expected a standard code of exactly 4 digits");
    }
    so_test_dump_errors(&errors);
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
    so_test_rm_rf(dir);
}

/* http.auth: the users file is loaded with the config, and its errors are check's errors,
 * with the users file's own name, line and column. */
static void test_http_auth_key(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], users[PATH_MAX + 16];
    temp_config_dir(dir, path, users, "users");
    so_test_write_file(users, "# who may see the pages\n"
          "ann operator $6$QbN3x7Yp2Lw9Kd1s$IFKiLwximtdKEZms9DtAhm8HojoG18mhcIGZZuDpxZSZXQNoGSrm"
          "LC6.xKw9/jibujKi3gU51Vnx4hU4UJDoO.\n");
    so_test_write_file(path, "http: {listen: \"127.0.0.1:8080\", auth: users, "
          "tls_cert: users, tls_key: users}\n"
          ONE_CAMERA);
    struct so_config_errors errors = {0};
    struct so_config *cfg = load_valid(path, &errors);
    if (cfg) {
        CHECK(cfg->http_auth != NULL);
        CHECK_INT(so_auth_count(cfg->http_auth), 1);
        CHECK_CONTAINS(cfg->http_auth_path, "/users");
        CHECK_CONTAINS(cfg->http_tls_cert, "/users");
        char *summary = summary_of(cfg);
        CHECK_CONTAINS(summary, "http: 127.0.0.1:8080 (TLS, users file)");
        CHECK(strstr(summary, "$6$") == NULL);
        free(summary);
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);

    so_test_write_file(users, "ann\toperator\n");
    cfg = so_config_load(path, &errors);
    CHECK(cfg == NULL);
    CHECK_INT(errors.n, 1);
    if (errors.n == 1) {
        CHECK_STR(errors.items[0].file, users);
        CHECK_INT(errors.items[0].line, 1);
        CHECK_INT(errors.items[0].column, 13);
        CHECK_CONTAINS(errors.items[0].message, "expected the password's crypt(3) hash");
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
    so_test_rm_rf(dir);
}

static void test_example(void)
{
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(SO_SOURCE_DIR "/config/example.yaml", &errors);
    CHECK(cfg != NULL);
    CHECK_INT(errors.n, 0);
    so_test_dump_errors(&errors);
    so_config_errors_finish(&errors);
    if (!cfg) {
        return;
    }
    CHECK_INT(cfg->n_cameras, 1);
    const struct so_camera_cfg *cam = &cfg->cameras[0];
    CHECK_INT(cam->n_zones, 4);
    CHECK_INT(cam->n_privacy_masks, 1);
    bool seen[SO_ZONE_KIND_COUNT] = {false};
    for (size_t i = 0; i < cam->n_zones; i++) {
        seen[cam->zones[i].kind] = true;
        CHECK(cam->zones[i].address != NULL);
    }
    for (int k = 0; k < SO_ZONE_KIND_COUNT; k++) {
        so_test_check(seen[k], __FILE__, __LINE__, "example has a %s zone",
                      so_zone_kind_name((enum so_zone_kind)k));
    }
    CHECK_STR(cam->zones[0].grid, "620102001001001");
    CHECK(!cam->zones[0].schedule.always);
    CHECK(cfg->deliver.endpoint != NULL);
    so_config_destroy(cfg);
}

/*
 * Reload comparisons: one row per change of a base config (two cameras, two zones), and what
 * each comparison must say about camera "a" (stream equal, zones equal) and the restart-only
 * keys that differ.
 */
#define RL_HEAD "detector: {id: d1, state_dir: /tmp/s}\nhttp: {listen: \"127.0.0.1:8080\"}\n" \
                "cameras:\n"
#define RL_A "  - id: a\n    url: a.mp4\n"
#define RL_B "  - id: b\n    url: b.mp4\n    zones: [{id: zb, kind: illegal_parking, " \
             "polygon: [[0,0],[1,0],[1,1]], dwell_s: 5}]\n"
#define RL_ZONES(z1, z2) "    zones:\n      - {id: z1, kind: illegal_parking, " \
                         "polygon: [[0,0],[1,0],[1,1]], dwell_s: 5" z1 "}\n" \
                         "      - {id: z2, kind: sidewalk_occupied, " \
                         "polygon: [[0,0],[0.5,0],[0.5,0.5]], dwell_s: 9" z2 "}\n"
#define RL_BASE RL_HEAD RL_A RL_ZONES("", "") RL_B

/* The analysis rate a camera's zones need when analysis.fps is absent. */
static void test_fps_for_zones(void)
{
    static const struct {
        const char *name;
        double dwell[3], warn[3];   /* dwell 0 ends the zones */
        double detect_fps, fps;
    } rows[] = {
        {"slow kerb (60 s): the floor", {60}, {0}, 1, 2},
        {"30 s", {30}, {0}, 1, 2},
        {"10 s: 3", {10}, {0}, 1, 3},
        {"8 s, rounded up in tenths", {8}, {0}, 1, 3.8},
        {"short dwell: the most", {5}, {0}, 1, 5},
        {"1 s", {1}, {0}, 1, 5},
        {"the shortest zone decides", {120, 12, 60}, {0}, 1, 2.5},
        {"an early warning counts", {60}, {10}, 1, 3},
        {"never fewer frames than looks", {60}, {0}, 3, 3},
        {"class-agnostic (no looks)", {60}, {0}, 0, 2},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct so_zone_cfg z[3] = {{0}};
        size_t n = 0;
        while (n < 3 && rows[i].dwell[n] > 0) {
            z[n].dwell_s = rows[i].dwell[n];
            z[n].warn_s = rows[i].warn[n];
            n++;
        }
        double got = so_analysis_fps_for_zones(z, n, rows[i].detect_fps);
        so_test_check(fabs(got - rows[i].fps) < 1e-9, __FILE__, __LINE__,
                      "fps for zones, %s: %g (got %g)", rows[i].name, rows[i].fps, got);
    }
    CHECK_DBL(so_analysis_fps_for_zones(NULL, 0, 1), SO_ANALYSIS_FPS_MIN, 0);
    /* the floor is the static model's (config/ sits below analysis/, so it is written twice) */
    struct so_static_params sp;
    so_static_params_default(&sp);
    CHECK_DBL(SO_ANALYSIS_FPS_MIN, so_static_params_min_fps(&sp), 1e-9);
}

static void test_reload_compare(void)
{
    static const struct {
        const char *name;
        const char *yaml;
        bool stream_equal, zones_equal;
        const char *restart;    /* the restart-only keys that differ, ", "-joined */
    } rows[] = {
        {"identical", RL_BASE, true, true, ""},
        {"other camera only", RL_HEAD RL_A RL_ZONES("", "") "  - id: b\n    url: c.mp4\n"
         "    zones: [{id: zb, kind: illegal_parking, polygon: [[0,0],[1,0],[1,1]], "
         "dwell_s: 5}]\n", true, true, ""},
        {"url", RL_HEAD "  - id: a\n    url: other.mp4\n" RL_ZONES("", "") RL_B, false, true,
         ""},
        {"analysis fps", RL_HEAD RL_A "    analysis: {fps: 2}\n" RL_ZONES("", "") RL_B, false,
         true, ""},
        {"decode", RL_HEAD RL_A "    decode: keyframes\n" RL_ZONES("", "") RL_B, false, true,
         ""},
        /* a slower zone lowers the rate derived from the zones (5 -> 3.4 fps): a restart */
        {"zone dwell, derived fps", RL_HEAD RL_A "    zones:\n      - {id: z1, kind: "
         "illegal_parking, polygon: [[0,0],[1,0],[1,1]], dwell_s: 60}\n      - {id: z2, kind: "
         "sidewalk_occupied, polygon: [[0,0],[0.5,0],[0.5,0.5]], dwell_s: 9}\n" RL_B, false,
         false, ""},
        {"privacy mask", RL_HEAD RL_A "    privacy_masks: [[[0,0],[0.1,0],[0.1,0.1]]]\n"
         RL_ZONES("", "") RL_B, false, true, ""},
        {"zone interval", RL_HEAD RL_A RL_ZONES(", report_interval_s: 30", "") RL_B, true, false,
         ""},
        {"zone schedule", RL_HEAD RL_A RL_ZONES("", ", schedule: [\"mon 07:00-08:00\"]") RL_B,
         true, false, ""},
        {"zone address", RL_HEAD RL_A RL_ZONES(", address: x", "") RL_B, true, false, ""},
        {"zone classes", RL_HEAD RL_A RL_ZONES(", classes: [car]", "") RL_B, true, false, ""},
        {"zone polygon", RL_HEAD RL_A "    zones:\n      - {id: z1, kind: illegal_parking, "
         "polygon: [[0,0],[1,0],[1,0.9]], dwell_s: 5}\n      - {id: z2, kind: "
         "sidewalk_occupied, polygon: [[0,0],[0.5,0],[0.5,0.5]], dwell_s: 9}\n" RL_B, true,
         false, ""},
        {"zone removed", RL_HEAD RL_A "    zones: [{id: z1, kind: illegal_parking, "
         "polygon: [[0,0],[1,0],[1,1]], dwell_s: 5}]\n" RL_B, true, false, ""},
        {"restart keys", "detector: {id: d2, state_dir: /tmp/s2, timezone: UTC}\n"
         "outputs: {jsonl: e.jsonl, deliver: {endpoint: \"tcp://127.0.0.1:5560\"}}\n"
         "http: {listen: \"127.0.0.1:8081\"}\ncameras:\n" RL_A RL_ZONES("", "") RL_B, true, true,
         "detector.id, detector.state_dir, detector.timezone, outputs.jsonl, outputs.deliver, "
         "http.listen"},
        {"tls files", "detector: {id: d1, state_dir: /tmp/s}\nhttp: {listen: \"127.0.0.1:8080\", "
         "tls_cert: /dev/null, tls_key: /dev/null}\ncameras:\n" RL_A
         RL_ZONES("", "") RL_B, true, true, "http.tls_cert, http.tls_key"},
    };
    char path[PATH_MAX];
    struct so_config_errors errors = {0};
    struct so_config *base = load_text(RL_BASE, &errors, path);
    CHECK(base != NULL);
    so_config_errors_finish(&errors);
    if (!base) {
        return;
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct so_config_errors e = {0};
        struct so_config *cfg = load_text(rows[i].yaml, &e, path);
        so_test_check(cfg != NULL, __FILE__, __LINE__, "reload row %s loads", rows[i].name);
        if (!cfg) {
            so_test_dump_errors(&e);
            so_config_errors_finish(&e);
            continue;
        }
        so_config_errors_finish(&e);
        const struct so_camera_cfg *a0 = so_config_find_camera(base, "a");
        const struct so_camera_cfg *a1 = so_config_find_camera(cfg, "a");
        so_test_check(so_camera_stream_equal(a0, a1) == rows[i].stream_equal, __FILE__, __LINE__,
                      "reload row %s: stream equal is %d", rows[i].name, rows[i].stream_equal);
        so_test_check(so_camera_zones_equal(a0, a1) == rows[i].zones_equal, __FILE__, __LINE__,
                      "reload row %s: zones equal is %d", rows[i].name, rows[i].zones_equal);
        const char *keys[16];
        size_t n = so_config_restart_changes(base, cfg, keys, 16);
        char joined[512] = "";
        for (size_t k = 0; k < n && k < 16; k++) {
            size_t len = strlen(joined);
            snprintf(joined + len, sizeof(joined) - len, "%s%s", k ? ", " : "", keys[k]);
        }
        so_test_check(strcmp(joined, rows[i].restart) == 0, __FILE__, __LINE__,
                      "reload row %s: restart keys \"%s\" (got \"%s\")", rows[i].name,
                      rows[i].restart, joined);
        /* Zones compare one by one too: z2 is the same in every row but "zone removed". */
        if (a1->n_zones == 2) {
            so_test_check(so_zone_cfg_equal(&a0->zones[1], &a1->zones[1]) ==
                              (strcmp(rows[i].name, "zone schedule") != 0),
                          __FILE__, __LINE__, "reload row %s: zone z2 equality", rows[i].name);
        }
        so_config_destroy(cfg);
    }
    so_config_destroy(base);
}

int main(void)
{
    test_error_table();
    test_many_errors();
    test_backend();
    test_full_config();
    test_defaults();
    test_url_resolution();
    test_print_errors();
    test_kinds();
    test_categories_key();
    test_http_auth_key();
    test_example();
    test_fps_for_zones();
    test_reload_compare();
    return so_test_done();
}
