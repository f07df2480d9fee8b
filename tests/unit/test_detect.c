/*
 * Unit tests for detector/detect/ (model.c, detector.c) and the DNN half of the OpenCV shim:
 * roles, IoU and NMS tables; descriptor errors (place, key, file name); the shipped
 * descriptors; the weights search order with temp folders; size / checksum / class-list
 * failures; scripts/fetch-models --from and --dry-run; and, with the shared assets, each model
 * on street.png and bus.jpg, ROI detection in full-frame coordinates, filters and NMS on real
 * output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "detector.h"
#include "model.h"
#include "so_build_config.h"
#include "socv.h"
#include "socv_imgio.h"
#include "testlib.h"

#define XL "yolo-fastest-1.1-xl"

static const char *const model_names[] = {XL, "yolo-fastest-1.1", "mobilenetv2-yolov3-nano"};
#define N_MODELS ((int)(sizeof(model_names) / sizeof(model_names[0])))

/* --- text helpers --------------------------------------------------------------------------- */

/* Replace the first occurrence of `from` in `s` by `to` (new string). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at) {
        fprintf(stderr, "replace: \"%s\" not found\n", from);
        exit(1);
    }
    size_t a = (size_t)(at - s), lf = strlen(from), lt = strlen(to), ls = strlen(s);
    char *r = malloc(ls - lf + lt + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, lt);
    memcpy(r + a + lt, at + lf, ls - a - lf + 1);
    return r;
}

/* Line (1-based) where `needle` first occurs in s. */
static int line_of(const char *s, const char *needle)
{
    const char *at = strstr(s, needle);
    int line = 1;
    for (const char *p = s; at && p < at; p++) {
        line += *p == '\n';
    }
    return at ? line : -1;
}

/* 1-based column of `node` found in `s` after the first `needle`; -1 when absent. */
static int column_of(const char *s, const char *needle, const char *node)
{
    const char *at = strstr(s, needle);
    const char *n = at ? strstr(at, node) : NULL;
    if (!n) {
        return -1;
    }
    const char *bol = n;
    while (bol > s && bol[-1] != '\n') {
        bol--;
    }
    return (int)(n - bol) + 1;
}

/* The assets folder as the test started (the lookup tests point STREETORDER_ASSETS
 * elsewhere). */
static char assets[PATH_MAX];

static bool have_assets(void)
{
    struct stat st;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/models/%s", so_test_assets(), XL);
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --- pure parts ----------------------------------------------------------------------------- */

static void test_roles(void)
{
    static const struct {
        const char *name;
        enum so_role role;
    } rows[] = {
        {"other", SO_ROLE_OTHER},       {"vehicle", SO_ROLE_VEHICLE},
        {"nonmotor", SO_ROLE_NONMOTOR}, {"person", SO_ROLE_PERSON},
        {"stall_cue", SO_ROLE_STALL_CUE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum so_role r = SO_ROLE_COUNT;
        CHECK(so_role_parse(rows[i].name, &r));
        CHECK_INT(r, rows[i].role);
        CHECK_STR(so_role_name(rows[i].role), rows[i].name);
    }
    CHECK(!so_role_parse("stall-cue", NULL));
    CHECK(so_role_name(SO_ROLE_COUNT) == NULL);
}

#define DET(x, y, w, h, cls, s) {{x, y, w, h}, cls, "c", SO_ROLE_OTHER, s}

static void test_nms(void)
{
    static const struct {
        const char *name;
        struct so_detection in[6];
        int n;
        double iou;
        int kept;
        float scores[6];    /* expected scores of the kept boxes, in order */
    } rows[] = {
        {"empty", {{{0, 0, 0, 0}, 0, "c", SO_ROLE_OTHER, 0}}, 0, 0.45, 0, {0}},
        {"overlap same class: weaker dropped",
         {DET(0, 0, 100, 100, 2, 0.6f), DET(5, 5, 100, 100, 2, 0.9f)}, 2, 0.45, 1, {0.9f}},
        {"overlap other class: both kept",
         {DET(0, 0, 100, 100, 2, 0.6f), DET(5, 5, 100, 100, 7, 0.9f)}, 2, 0.45, 2,
         {0.9f, 0.6f}},
        {"below threshold: both kept",
         {DET(0, 0, 100, 100, 0, 0.5f), DET(60, 0, 100, 100, 0, 0.8f)}, 2, 0.45, 2,
         {0.8f, 0.5f}},
        {"chain: a suppresses b, c survives (b gone)",
         {DET(0, 0, 100, 100, 0, 0.9f), DET(30, 0, 100, 100, 0, 0.8f),
          DET(80, 0, 100, 100, 0, 0.7f)},
         3, 0.45, 2, {0.9f, 0.7f}},
        {"sorted best first",
         {DET(0, 0, 10, 10, 0, 0.3f), DET(100, 0, 10, 10, 0, 0.9f),
          DET(200, 0, 10, 10, 0, 0.5f)},
         3, 0.45, 3, {0.9f, 0.5f, 0.3f}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct so_detection d[6];
        memcpy(d, rows[i].in, sizeof(d));
        int kept = so_detect_nms(d, rows[i].n, rows[i].iou);
        so_test_check(kept == rows[i].kept, __FILE__, __LINE__, "nms %s: kept %d (want %d)",
                      rows[i].name, kept, rows[i].kept);
        for (int k = 0; k < kept && k < rows[i].kept; k++) {
            CHECK_DBL(d[k].score, rows[i].scores[k], 1e-6);
        }
    }
}

/* --- descriptors ---------------------------------------------------------------------------- */

static void test_shipped_descriptors(void)
{
    char err[2048];
    for (int i = 0; i < N_MODELS; i++) {
        struct so_model_desc *d = so_model_load(model_names[i], err, sizeof(err));
        so_test_check(d != NULL, __FILE__, __LINE__, "descriptor %s loads (%s)",
                      model_names[i], err);
        if (!d) {
            continue;
        }
        CHECK_STR(d->name, model_names[i]);
        CHECK_STR(d->format, "darknet");
        CHECK_INT(d->n_classes, 80);
        CHECK_INT(d->input_width, 320);
        CHECK_INT(d->input_height, 320);
        CHECK_DBL(d->scale, 1.0 / 255.0, 1e-12);
        CHECK(d->swap_rb);
        CHECK_DBL(d->nms_threshold, 0.45, 1e-9);
        CHECK_DBL(d->score_threshold, 0.3, 1e-9);
        CHECK(d->dir == NULL);
        for (int k = 0; k < SO_MODEL_FILE_COUNT; k++) {
            CHECK(strlen(d->files[k].sha256) == 64);
            CHECK(d->files[k].size > 0);
        }
        CHECK(d->files[SO_MODEL_WEIGHTS].url &&
              strncmp(d->files[SO_MODEL_WEIGHTS].url,
                      "https://raw.githubusercontent.com/dog-qiuqiu/", 45) == 0);
        static const struct {
            const char *cls;
            enum so_role role;
            const char *reported;
        } roles[] = {
            {"car", SO_ROLE_VEHICLE, "car"},        {"bus", SO_ROLE_VEHICLE, "bus"},
            {"truck", SO_ROLE_VEHICLE, "truck"},    {"train", SO_ROLE_VEHICLE, "truck"},
            {"bicycle", SO_ROLE_NONMOTOR, "bicycle"},
            {"motorbike", SO_ROLE_NONMOTOR, "motorbike"},
            {"person", SO_ROLE_PERSON, "person"},   {"umbrella", SO_ROLE_STALL_CUE, "umbrella"},
            {"diningtable", SO_ROLE_STALL_CUE, "diningtable"},
            {"chair", SO_ROLE_STALL_CUE, "chair"},
            {"traffic light", SO_ROLE_OTHER, "traffic light"},
            {"dog", SO_ROLE_OTHER, "dog"},
        };
        for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
            int idx = so_model_class_index(d, roles[r].cls);
            CHECK(idx >= 0);
            if (idx >= 0) {
                CHECK_INT(d->classes[idx].role, roles[r].role);
                CHECK_STR(d->classes[d->classes[idx].report_id].name, roles[r].reported);
            }
        }
        so_model_destroy(d);
    }
    so_model_destroy(NULL);
}

struct desc_case {
    const char *name;
    const char *from, *to;  /* edit of the xl descriptor's text; from == NULL: no file */
    const char *model;      /* name to load (default: the xl's) */
    const char *at;         /* text whose line the error must point at (NULL: do not check) */
    const char *key;        /* substring of the message: key path */
    const char *message;    /* substring of the message */
    const char *node;       /* the text after `at` where the error's column is: then the whole
                               "FILE:LINE:COL: key: message" is checked, as the config's */
};

static const struct desc_case desc_cases[] = {
    {"missing descriptor", NULL, NULL, "no-such-model", NULL, "no-such-model.yaml",
     "no such model descriptor", NULL},
    {"bad model name", NULL, NULL, "../etc/passwd", NULL, "../etc/passwd", "expected letters",
     NULL},
    /* the config's format, to the column (file:line:col: key: expected) */
    {"bad bool", "swap_rb: true", "swap_rb: maybe", NULL, "swap_rb: maybe",
     "preprocess.swap_rb", "expected true or false, got \"maybe\"", "maybe"},
    {"bad number", "  score: 0.3", "  score: 0.3x", NULL, "score: 0.3x", "thresholds.score",
     "expected a number greater than 0 and less than 1, got \"0.3x\"", "0.3x"},
    {"number out of range", "  score: 0.3", "  score: 1.5", NULL, "score: 1.5",
     "thresholds.score", "expected a number greater than 0 and less than 1, got \"1.5\"",
     "1.5"},
    {"unknown key", "  nms: 0.45", "  nms: 0.45\n  scroe: 0.2", NULL, "scroe",
     "thresholds.scroe", "unknown key \"scroe\"; allowed keys are score, nms", "scroe"},
    {"unknown key, near miss", "format: darknet", "format: darknet\nclases: [a]", NULL,
     "clases", "clases", "unknown key \"clases\" (did you mean \"classes\"?)", "clases"},
    {"missing key", "  nms: 0.45", "", NULL, "  score: 0.3", "thresholds.nms",
     "missing required key \"nms\" (expected a number greater than 0 and at most 1)", "score"},
    {"bad sha256", "sha256: c458", "sha256: zz58", NULL, "sha256: zz58", "files.cfg.sha256",
     "expected 64 hex digits, got \"zz58", "zz58"},
    {"file name with a path", "name: coco.names", "name: ../coco.names", NULL,
     "name: ../coco.names", "files.names.name",
     "expected a plain file name (no folder), got \"../coco.names\"", "../coco.names"},
    {"integer expected", "size: 9696", "size: 96.5", NULL, "size: 96.5", "files.cfg.size",
     "expected an integer from 0 to 1e+12, got \"96.5\"", "96.5"},
    {"duplicate key", "  nms: 0.45", "  nms: 0.45\n  nms: 0.5", NULL, "nms: 0.5",
     "thresholds.nms", "duplicate key \"nms\" (first given at line", "nms: 0.5"},
    {"missing mapping", "output:\n", "outptu:\n", NULL, "name: " XL, "output",
     "missing required key \"output\" (expected a mapping)", "name"},
    /* the other checks */
    {"unknown top key", "format: darknet", "format: darknet\nweigths: x", NULL, "weigths",
     "weigths", "unknown key", NULL},
    {"format", "format: darknet", "format: onnx", NULL, "format: onnx", "format",
     "expected darknet", NULL},
    {"input not multiple of 32", "width: 320", "width: 300", NULL, "width: 300",
     "input.width", "expected a multiple of 32", NULL},
    {"letterbox unsupported", "resize: plain", "resize: letterbox", NULL, "resize: letterbox",
     "preprocess.resize", "expected plain", NULL},
    {"role of an unknown class", "vehicle: [car,", "vehicle: [lorry, car,", NULL,
     "vehicle: [lorry", "roles.vehicle[0]", "expected one of the model's classes, got \"lorry\"",
     NULL},
    {"unknown role", "  nonmotor:", "  cyclist:", NULL, "cyclist:", "roles.cyclist",
     "unknown key \"cyclist\"", NULL},
    {"class in two roles", "person: [person]", "person: [person, car]", NULL, "person: [person",
     "roles.person[1]", "class \"car\" already has role vehicle", NULL},
    {"alias to an unknown class", "train: truck", "train: lorry", NULL, "train: lorry",
     "aliases.train", "got \"lorry\"", NULL},
    {"duplicate class", "  - bicycle\n", "  - person\n", NULL, "  - person\n  - car",
     "classes[1]", "duplicate class \"person\"", NULL},
    {"name differs from file", "name: " XL, "name: other", NULL, "name: other", "name",
     "expected \"" XL "\" (the descriptor's file name)", NULL},
    {"yaml syntax", "format: darknet", "format: [darknet", NULL, NULL, XL ".yaml:",
     "did not find expected", NULL},
};

static void test_descriptor_errors(void)
{
    char src[PATH_MAX];
    snprintf(src, sizeof(src), "%s/models/%s.yaml", SO_SOURCE_DIR, XL);
    char *base = so_test_read_file(src);
    CHECK(base != NULL);
    if (!base) {
        return;
    }
    char dir[PATH_MAX], path[PATH_MAX + 64], err[4096];
    so_test_temp_dir(dir);
    setenv("STREETORDER_MODELS_DIR", dir, 1);
    CHECK_STR(so_model_descriptor_dir(), dir);
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, XL);

    for (size_t i = 0; i < sizeof(desc_cases) / sizeof(desc_cases[0]); i++) {
        const struct desc_case *c = &desc_cases[i];
        char *text = NULL;
        if (c->from) {
            text = replace(base, c->from, c->to);
            so_test_write_file(path, text);
        }
        struct so_model_desc *d = so_model_load(c->model ? c->model : XL, err, sizeof(err));
        so_test_check(d == NULL, __FILE__, __LINE__, "%s: rejected", c->name);
        CHECK_CONTAINS(err, c->key);
        CHECK_CONTAINS(err, c->message);
        if (c->from) {
            CHECK_CONTAINS(err, path);      /* the message names the file */
        }
        if (c->at && text) {
            char place[PATH_MAX + 512];
            snprintf(place, sizeof(place), "%s:%d:", path, line_of(text, c->at));
            CHECK_CONTAINS(err, place);
            if (c->node) {
                snprintf(place, sizeof(place), "%s:%d:%d: %s: %s", path, line_of(text, c->at),
                         column_of(text, c->at, c->node), c->key, c->message);
                CHECK_CONTAINS(err, place);
            }
        }
        so_model_destroy(d);
        free(text);
        unlink(path);
    }
    /* several errors in one run, one per line */
    char *t1 = replace(base, "  score: 0.3", "  score: 7");
    char *t2 = replace(t1, "format: darknet", "format: onnx");
    so_test_write_file(path, t2);
    CHECK(so_model_load(XL, err, sizeof(err)) == NULL);
    CHECK_CONTAINS(err, "thresholds.score");
    CHECK(strchr(err, '\n') != NULL);    /* one error per line */
    CHECK_CONTAINS(err, "format");
    free(t1);
    free(t2);
    /* the unedited copy loads from the env folder */
    so_test_write_file(path, base);
    struct so_model_desc *d = so_model_load(XL, err, sizeof(err));
    CHECK(d != NULL);
    CHECK(d && strcmp(d->desc_path, path) == 0);
    so_model_destroy(d);

    unsetenv("STREETORDER_MODELS_DIR");
    CHECK_STR(so_model_descriptor_dir(), SO_MODELS_DIR);
    so_test_rm_rf(dir);
    free(base);
}

/* --- files: search order and verification (needs the assets' model files) ------------------- */

/* Populate dir/ with links to the assets' files of model `name`. */
static void link_model(const char *name, const char *dir)
{
    static const char *const exts[] = {"cfg", "weights"};
    char from[PATH_MAX], to[PATH_MAX * 2];
    mkdir(dir, 0755);
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof(from), "%.3000s/models/%s/%s.%s", assets, name, name, exts[i]);
        snprintf(to, sizeof(to), "%s/%s.%s", dir, name, exts[i]);
        if (symlink(from, to) != 0) {
            perror(to);
        }
    }
    snprintf(from, sizeof(from), "%.3000s/models/%s/coco.names", assets, name);
    snprintf(to, sizeof(to), "%s/coco.names", dir);
    if (symlink(from, to) != 0) {
        perror(to);
    }
}

static void test_lookup_order(void)
{
    const char *name = "yolo-fastest-1.1";
    char tmp[PATH_MAX], wdir[PATH_MAX + 16], mdir[PATH_MAX + 16], adir[PATH_MAX + 16];
    char p[PATH_MAX * 2], err[2048];
    so_test_temp_dir(tmp);
    snprintf(wdir, sizeof(wdir), "%s/w", tmp);
    snprintf(mdir, sizeof(mdir), "%s/m", tmp);
    snprintf(adir, sizeof(adir), "%s/a", tmp);
    mkdir(wdir, 0755);
    mkdir(mdir, 0755);
    mkdir(adir, 0755);
    snprintf(p, sizeof(p), "%s/models", adir);
    mkdir(p, 0755);
    setenv("STREETORDER_MODELS", mdir, 1);
    setenv("STREETORDER_ASSETS", adir, 1);

    /* nothing anywhere: the error names the weights file and every folder searched */
    CHECK(so_model_check(name, wdir, err, sizeof(err)) == -ENOENT);
    CHECK_CONTAINS(err, "yolo-fastest-1.1.weights");
    CHECK_CONTAINS(err, wdir);
    CHECK_CONTAINS(err, mdir);
    CHECK_CONTAINS(err, adir);
    CHECK_CONTAINS(err, "scripts/fetch-models");

    struct {
        const char *what;
        char populate[PATH_MAX * 2];
        char expect[PATH_MAX * 2];
        const char *weights_dir;
    } steps[4];
    /* each step adds a copy at a higher-priority place, which must win */
    snprintf(steps[0].populate, sizeof(p), "%s/models/%s", adir, name);
    snprintf(steps[1].populate, sizeof(p), "%s/%s", mdir, name);
    snprintf(steps[2].populate, sizeof(p), "%s/%s", wdir, name);
    snprintf(steps[3].populate, sizeof(p), "%s", wdir);
    const char *whats[4] = {"STREETORDER_ASSETS/models/NAME", "STREETORDER_MODELS/NAME",
                            "weights_dir/NAME", "weights_dir itself"};
    for (int i = 0; i < 4; i++) {
        steps[i].what = whats[i];
        snprintf(steps[i].expect, sizeof(p), "%s", steps[i].populate);
    }
    /* weights_dir/NAME beats weights_dir itself: step 3 keeps expecting step 2's folder */
    snprintf(steps[3].expect, sizeof(p), "%s", steps[2].populate);
    for (int i = 0; i < 4; i++) {
        link_model(name, steps[i].populate);
        struct so_model_desc *d = so_model_open(name, wdir, err, sizeof(err));
        so_test_check(d != NULL, __FILE__, __LINE__, "lookup %s: opens (%s)", steps[i].what,
                      err);
        if (d) {
            so_test_check(strcmp(d->dir, steps[i].expect) == 0, __FILE__, __LINE__,
                          "lookup %s: found in %s (want %s)", steps[i].what, d->dir,
                          steps[i].expect);
            snprintf(p, sizeof(p), "%s/%s.weights", steps[i].expect, name);
            CHECK_STR(d->files[SO_MODEL_WEIGHTS].path, p);
        }
        so_model_destroy(d);
    }
    /* weights_dir itself (no NAME/ subfolder) when that is where the files are */
    snprintf(p, sizeof(p), "%s/%s", wdir, name);
    so_test_rm_rf(p);
    struct so_model_desc *d = so_model_open(name, wdir, err, sizeof(err));
    CHECK(d && strcmp(d->dir, wdir) == 0);
    so_model_destroy(d);
    /* without a weights_dir: $STREETORDER_MODELS/NAME */
    d = so_model_open(name, NULL, err, sizeof(err));
    snprintf(p, sizeof(p), "%s/%s", mdir, name);
    CHECK(d && strcmp(d->dir, p) == 0);
    so_model_destroy(d);

    /* a corrupt file where the weights are is an error, not a fallback to the next folder */
    snprintf(p, sizeof(p), "%s/%s.cfg", wdir, name);
    char *cfg = so_test_read_file(p);
    CHECK(cfg != NULL);
    if (cfg) {
        unlink(p);
        size_t n = strlen(cfg);
        cfg[n / 2] = cfg[n / 2] == '#' ? '!' : '#';    /* same size, other bytes */
        so_test_write_file(p, cfg);
        free(cfg);
        CHECK_INT(so_model_check(name, wdir, err, sizeof(err)), -EBADMSG);
        CHECK_CONTAINS(err, "yolo-fastest-1.1.cfg");
        CHECK_CONTAINS(err, "sha256");
        CHECK_CONTAINS(err, wdir);
        /* truncated: the size says so first */
        so_test_write_file(p, "[net]\n");
        CHECK_INT(so_model_check(name, wdir, err, sizeof(err)), -EBADMSG);
        CHECK_CONTAINS(err, "6 bytes, expected 9685");
        /* missing cfg beside the weights */
        unlink(p);
        CHECK_INT(so_model_check(name, wdir, err, sizeof(err)), -ENOENT);
        CHECK_CONTAINS(err, "yolo-fastest-1.1.cfg is missing");
    }
    /* wrong sha256 in the descriptor: the message names the file */
    {
        char ddir[PATH_MAX + 16], dpath[PATH_MAX * 2], src[PATH_MAX];
        snprintf(ddir, sizeof(ddir), "%s/desc", tmp);
        mkdir(ddir, 0755);
        snprintf(src, sizeof(src), "%s/models/%s.yaml", SO_SOURCE_DIR, name);
        char *base = so_test_read_file(src);
        char *bad = replace(base, "1c445c42", "2c445c42");
        snprintf(dpath, sizeof(dpath), "%s/%s.yaml", ddir, name);
        so_test_write_file(dpath, bad);
        setenv("STREETORDER_MODELS_DIR", ddir, 1);
        CHECK_INT(so_model_check(name, NULL, err, sizeof(err)), -EBADMSG);
        CHECK_CONTAINS(err, "yolo-fastest-1.1.weights has sha256 1c445c42");
        CHECK_CONTAINS(err, "expected 2c445c42");
        free(bad);
        /* class list that disagrees with the (intact) names file */
        bad = replace(base, "  - bicycle\n  - car\n", "  - car\n  - bicycle\n");
        so_test_write_file(dpath, bad);
        CHECK_INT(so_model_check(name, NULL, err, sizeof(err)), -EBADMSG);
        CHECK_CONTAINS(err, "coco.names: line 2 is \"bicycle\"");
        free(bad);
        free(base);
        unsetenv("STREETORDER_MODELS_DIR");
    }
    unsetenv("STREETORDER_MODELS");
    unsetenv("STREETORDER_ASSETS");
    so_test_rm_rf(tmp);
}

/* scripts/fetch-models --from: the folder it fills is one the loader accepts. */
static void test_fetch_models(void)
{
    char tmp[PATH_MAX], cmd[PATH_MAX * 5], err[2048], p[PATH_MAX * 2];
    so_test_temp_dir(tmp);
    snprintf(cmd, sizeof(cmd),
             "'%s/scripts/fetch-models' --dry-run --dest '%s' yolo-fastest-1.1 > '%s/dry.txt'",
             SO_SOURCE_DIR, tmp, tmp);
    CHECK_INT(system(cmd), 0);
    snprintf(p, sizeof(p), "%s/dry.txt", tmp);
    char *dry = so_test_read_file(p);
    CHECK_CONTAINS(dry, "would fetch https://raw.githubusercontent.com/dog-qiuqiu/Yolo-Fastest/");
    CHECK_CONTAINS(dry, "yolo-fastest-1.1.weights");
    free(dry);
    snprintf(p, sizeof(p), "%s/yolo-fastest-1.1", tmp);
    struct stat st;
    CHECK(stat(p, &st) != 0);   /* dry run changed nothing */

    snprintf(cmd, sizeof(cmd),
             "'%s/scripts/fetch-models' --from '%s/models' --dest '%s/models' yolo-fastest-1.1 "
             "> /dev/null", SO_SOURCE_DIR, assets, tmp);
    CHECK_INT(system(cmd), 0);
    snprintf(p, sizeof(p), "%s/models", tmp);
    setenv("STREETORDER_MODELS", p, 1);
    setenv("STREETORDER_ASSETS", "/nonexistent", 1);
    struct so_model_desc *d = so_model_open("yolo-fastest-1.1", NULL, err, sizeof(err));
    so_test_check(d != NULL, __FILE__, __LINE__, "fetched model opens (%s)", err);
    so_model_destroy(d);

    /* a corrupt source: non-zero exit, nothing replaced */
    char src[PATH_MAX + 32];
    snprintf(src, sizeof(src), "%s/src/yolo-fastest-1.1", tmp);
    snprintf(p, sizeof(p), "%s/src", tmp);
    mkdir(p, 0755);
    mkdir(src, 0755);
    snprintf(p, sizeof(p), "%s/yolo-fastest-1.1.weights", src);
    so_test_write_file(p, "not weights");
    snprintf(cmd, sizeof(cmd),
             "'%s/scripts/fetch-models' --from '%s/src' --dest '%s/fresh' yolo-fastest-1.1 "
             "> /dev/null 2> '%s/err.txt'", SO_SOURCE_DIR, tmp, tmp, tmp);
    int rc = system(cmd);
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
    snprintf(p, sizeof(p), "%s/err.txt", tmp);
    char *msg = so_test_read_file(p);
    CHECK_CONTAINS(msg, "yolo-fastest-1.1.weights");
    CHECK_CONTAINS(msg, "nothing replaced");
    free(msg);
    snprintf(p, sizeof(p), "%s/fresh/yolo-fastest-1.1/yolo-fastest-1.1.weights", tmp);
    CHECK(stat(p, &st) != 0);
    unsetenv("STREETORDER_MODELS");
    unsetenv("STREETORDER_ASSETS");
    so_test_rm_rf(tmp);
}

/* --- detection on the shared images --------------------------------------------------------- */

struct image {
    uint8_t *bgr;
    struct so_image view;
};

static bool load_image(const char *file, struct image *im)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%.3000s/images/%s", assets, file);
    int w, h, stride;
    enum socv_status st = socv_image_read(path, &im->bgr, &w, &h, &stride);
    so_test_check(st == SOCV_OK, __FILE__, __LINE__, "read %s (%s)", file,
                  st == SOCV_OK ? "" : socv_last_error());
    im->view = (struct so_image){im->bgr, w, h, stride};
    return st == SOCV_OK;
}

static int count_role(const struct so_detection *d, int n, enum so_role role)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        c += d[i].role == role;
    }
    return c;
}

static int count_class(const struct so_detection *d, int n, const char *cls)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        c += strcmp(d[i].class_name, cls) == 0;
    }
    return c;
}

static void print_detections(const char *what, const struct so_detection *d, int n)
{
    printf("# %s: %d detections\n", what, n);
    for (int i = 0; i < n; i++) {
        printf("#   %-14s %-9s %.2f [%d,%d %dx%d]\n", d[i].class_name, so_role_name(d[i].role),
               d[i].score, d[i].box.x, d[i].box.y, d[i].box.w, d[i].box.h);
    }
}

/* No two boxes of one class overlap above the model's NMS threshold; all inside the image. */
static void check_nms_property(const struct so_model_desc *m, const struct so_image *img,
                               const struct so_detection *d, int n)
{
    int bad = 0, outside = 0;
    for (int i = 0; i < n; i++) {
        const struct so_box *b = &d[i].box;
        outside += b->x < 0 || b->y < 0 || b->x + b->w > img->width ||
                   b->y + b->h > img->height || b->w <= 0 || b->h <= 0;
        for (int j = i + 1; j < n; j++) {
            bad += d[i].class_id == d[j].class_id &&
                   so_box_iou(d[i].box, d[j].box) > m->nms_threshold;
        }
        if (i > 0) {
            bad += d[i].score > d[i - 1].score;   /* best first */
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(outside, 0);
}

#define MAXD 256

static void test_models_on_images(void)
{
    struct image street = {0}, bus = {0};
    if (!load_image("street.png", &street) || !load_image("bus.jpg", &bus)) {
        free(street.bgr);
        free(bus.bgr);
        return;
    }
    CHECK_INT(street.view.width, 1441);
    CHECK_INT(street.view.height, 731);
    char err[2048], what[128];
    static struct so_detection d[MAXD], r[MAXD];
    for (int i = 0; i < N_MODELS; i++) {
        CHECK_INT(so_model_check(model_names[i], NULL, err, sizeof(err)), 0);
        struct so_model_desc *m = so_model_open(model_names[i], NULL, err, sizeof(err));
        so_test_check(m != NULL, __FILE__, __LINE__, "%s opens (%s)", model_names[i], err);
        struct so_detector *det = m ? so_detector_create(m, 0, err, sizeof(err)) : NULL;
        so_test_check(det != NULL, __FILE__, __LINE__, "%s detector (%s)", model_names[i],
                      err);
        if (!det) {
            so_model_destroy(m);
            continue;
        }
        CHECK(so_detector_model(det) == m);

        int n = -1;
        CHECK_INT(so_detector_run(det, &street.view, NULL, NULL, d, MAXD, &n), 0);
        snprintf(what, sizeof(what), "%s street.png", model_names[i]);
        print_detections(what, d, n);
        check_nms_property(m, &street.view, d, n);
        CHECK(count_role(d, n, SO_ROLE_VEHICLE) >= 3);
        CHECK(count_role(d, n, SO_ROLE_PERSON) >= 5);
        if (i == 0) {
            CHECK(count_class(d, n, "bicycle") + count_class(d, n, "umbrella") >= 1);
        }

        CHECK_INT(so_detector_run(det, &bus.view, NULL, NULL, d, MAXD, &n), 0);
        snprintf(what, sizeof(what), "%s bus.jpg", model_names[i]);
        print_detections(what, d, n);
        check_nms_property(m, &bus.view, d, n);
        if (i == 0) {
            CHECK(count_class(d, n, "bus") >= 1);
            CHECK(count_role(d, n, SO_ROLE_PERSON) >= 2);
        }

        if (i == 0) {
            /* ROI: the right part of the street; boxes come back in full-frame pixels */
            int nf = 0, nr = 0;
            CHECK_INT(so_detector_run(det, &street.view, NULL, NULL, d, MAXD, &nf), 0);
            struct so_box roi = {700, 380, 741, 300};
            CHECK_INT(so_detector_run(det, &street.view, &roi, NULL, r, MAXD, &nr), 0);
            print_detections("xl street.png roi 700,380 741x300", r, nr);
            CHECK(count_role(r, nr, SO_ROLE_PERSON) >= 3);
            int outside = 0;
            for (int k = 0; k < nr; k++) {
                const struct so_box *b = &r[k].box;
                outside += b->x < roi.x || b->y < roi.y || b->x + b->w > roi.x + roi.w ||
                           b->y + b->h > roi.y + roi.h;
            }
            CHECK_INT(outside, 0);
            /* full-frame persons inside the ROI are found there again, at the same place (the
             * crop is seen at a better scale, so boxes differ: IoU >= 0.2 for most) */
            int inside = 0, matched = 0;
            for (int j = 0; j < nf; j++) {
                const struct so_box *b = &d[j].box;
                if (d[j].role != SO_ROLE_PERSON || b->x < roi.x || b->y < roi.y ||
                    b->x + b->w > roi.x + roi.w || b->y + b->h > roi.y + roi.h) {
                    continue;
                }
                inside++;
                double best = 0;
                for (int k = 0; k < nr; k++) {
                    if (r[k].class_id == d[j].class_id) {
                        double iou = so_box_iou(r[k].box, *b);
                        best = iou > best ? iou : best;
                    }
                }
                matched += best >= 0.2;
            }
            so_test_check(inside >= 5 && matched * 4 >= inside * 3, __FILE__, __LINE__,
                          "full-frame persons in the roi found again there (%d of %d)",
                          matched, inside);
            /* exact mapping: street.png pasted at (800, 500) into a larger grey canvas; the ROI
             * over the paste sees the same pixels, so the boxes are the full-frame ones shifted */
            int cw = 3000, ch = 1600, ox = 800, oy = 500;
            uint8_t *canvas = malloc((size_t)cw * ch * 3);
            memset(canvas, 114, (size_t)cw * ch * 3);
            for (int y = 0; y < street.view.height; y++) {
                memcpy(canvas + ((size_t)(y + oy) * cw + ox) * 3,
                       street.bgr + (size_t)y * street.view.stride, (size_t)street.view.width * 3);
            }
            struct so_image big = {canvas, cw, ch, cw * 3};
            struct so_box paste = {ox, oy, street.view.width, street.view.height};
            CHECK_INT(so_detector_run(det, &big, &paste, NULL, r, MAXD, &nr), 0);
            CHECK_INT(nr, nf);
            int off = 0;
            for (int k = 0; k < nr && k < nf; k++) {
                off += r[k].class_id != d[k].class_id || abs(r[k].box.x - ox - d[k].box.x) > 1 ||
                       abs(r[k].box.y - oy - d[k].box.y) > 1 || abs(r[k].box.w - d[k].box.w) > 1 ||
                       abs(r[k].box.h - d[k].box.h) > 1;
            }
            CHECK_INT(off, 0);
            free(canvas);
            /* a ROI partly outside the image is clipped; an empty one finds nothing */
            struct so_box wide = {1200, 300, 1000, 1000}, empty = {2000, 0, 10, 10};
            CHECK_INT(so_detector_run(det, &street.view, &wide, NULL, r, MAXD, &nr), 0);
            check_nms_property(m, &street.view, r, nr);
            CHECK_INT(so_detector_run(det, &street.view, &empty, NULL, r, MAXD, &nr), 0);
            CHECK_INT(nr, 0);

            /* filters (table) */
            static const struct {
                const char *name;
                struct so_detect_filter f;
            } filters[] = {
                {"persons only", {0, 0, 0, SO_ROLE_BIT(SO_ROLE_PERSON)}},
                {"vehicles and nonmotor",
                 {0, 0, 0, SO_ROLE_BIT(SO_ROLE_VEHICLE) | SO_ROLE_BIT(SO_ROLE_NONMOTOR)}},
                {"min score 0.6", {0.6, 0, 0, 0}},
                {"min size 60", {0, 60, 0, 0}},
                {"max size 80", {0, 0, 80, 0}},
            };
            for (size_t k = 0; k < sizeof(filters) / sizeof(filters[0]); k++) {
                const struct so_detect_filter *f = &filters[k].f;
                CHECK_INT(so_detector_run(det, &street.view, NULL, f, r, MAXD, &nr), 0);
                int violations = 0;
                for (int j = 0; j < nr; j++) {
                    violations += f->roles && !(f->roles & SO_ROLE_BIT(r[j].role));
                    violations += r[j].score < f->min_score;
                    violations += f->min_size && (r[j].box.w < f->min_size ||
                                                  r[j].box.h < f->min_size);
                    violations += f->max_size && (r[j].box.w > f->max_size ||
                                                  r[j].box.h > f->max_size);
                }
                so_test_check(nr > 0 && nr < nf && violations == 0, __FILE__, __LINE__,
                              "filter %s: %d of %d kept, %d violations", filters[k].name, nr,
                              nf, violations);
            }
            /* max: the best ones are kept */
            CHECK_INT(so_detector_run(det, &street.view, NULL, NULL, r, 2, &nr), 0);
            CHECK_INT(nr, 2);
            CHECK(nr == 2 && r[0].score == d[0].score && r[1].score == d[1].score);
            /* bad arguments */
            struct so_image bad = street.view;
            bad.stride = 10;
            CHECK_INT(so_detector_run(det, &bad, NULL, NULL, r, MAXD, &nr), -EINVAL);
            CHECK_CONTAINS(so_detector_last_error(det), "invalid");
        }
        so_detector_destroy(det);
        so_model_destroy(m);
    }
    so_detector_destroy(NULL);
    /* not located: refused with a message */
    struct so_model_desc *m = so_model_load(XL, err, sizeof(err));
    CHECK(m && so_detector_create(m, 1, err, sizeof(err)) == NULL);
    CHECK_CONTAINS(err, "not located");
    so_model_destroy(m);
    /* unreadable image */
    uint8_t *px = NULL;
    int w, h, s;
    CHECK_INT(socv_image_read("/nonexistent.png", &px, &w, &h, &s), SOCV_EIO);
    CHECK(px == NULL);
    free(street.bgr);
    free(bus.bgr);
}

int main(void)
{
    char err[256] = "x";
    snprintf(assets, sizeof(assets), "%s", so_test_assets());
    test_roles();
    test_nms();
    CHECK_INT(so_model_check(NULL, NULL, err, sizeof(err)), 0);    /* no model: fine */
    CHECK_STR(err, "");
    test_shipped_descriptors();
    test_descriptor_errors();

    if (!have_assets()) {
        const char *ci = getenv("CI");
        if (ci && *ci) {
            so_test_check(false, __FILE__, __LINE__, "assets at %s (CI is set)",
                          so_test_assets());
        } else {
            printf("# assets not found at %s: model files and detection skipped\n",
                   so_test_assets());
        }
        return so_test_done();
    }
    test_lookup_order();
    test_fetch_models();
    test_models_on_images();
    return so_test_done();
}
