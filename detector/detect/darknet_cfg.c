/*
 * Why this file exists: OpenCV reads darknet models itself, but a second inference engine
 * (XNNPACK, backend_xnnpack.c) needs the network as data: layer shapes and weights. This is
 * that reader, kept apart from any engine so a third one would reuse it.
 *
 * How: the cfg is read the way OpenCV's darknet importer reads it (every character outside
 * '!'..'z' dropped, so "mask = 3,4,5" and "mask=3,4,5" are the same; '#' and ';' lines are
 * comments), into sections of key/value pairs; then each section becomes a layer with its
 * shapes computed, and the weights file is consumed in layer order (a convolution reads its
 * biases, then with batch norm scales, means and variances, then its weights). Batch norm is
 * folded here, in double, with OpenCV's eps (1e-6), so engines see a plain convolution.
 *
 * Trade-offs: only the layers and options of the shipped models are accepted; an unknown
 * option that would change the numbers (new_coords, a non-linear shortcut, swish...) is
 * refused rather than ignored, so a new model falls back to OpenCV instead of giving
 * different detections.
 */
#include "darknet_cfg.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* realloc that aborts: small allocations may (STYLE). */
static void *grow(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q) {
        abort();
    }
    return q;
}

struct kv {
    char *key, *val;
};

struct section {
    char *type;
    int line;
    struct kv *kv;
    int n_kv;
};

static void free_sections(struct section *s, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < s[i].n_kv; k++) {
            free(s[i].kv[k].key);
            free(s[i].kv[k].val);
        }
        free(s[i].kv);
        free(s[i].type);
    }
    free(s);
}

/* Drop what OpenCV's escapeString drops: every byte outside '!'..'z'. */
static void squeeze(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p > ' ' && *p <= 'z') {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static const char *get(const struct section *s, const char *key)
{
    for (int k = 0; k < s->n_kv; k++) {
        if (strcmp(s->kv[k].key, key) == 0) {
            return s->kv[k].val;
        }
    }
    return NULL;
}

static int get_int(const struct section *s, const char *key, int def)
{
    const char *v = get(s, key);
    return v ? atoi(v) : def;
}

static double get_double(const struct section *s, const char *key, double def)
{
    const char *v = get(s, key);
    return v ? strtod(v, NULL) : def;
}

/* Comma-separated numbers into out (at most max); returns how many. */
static int get_list(const struct section *s, const char *key, double *out, int max)
{
    const char *v = get(s, key);
    int n = 0;
    while (v && *v && n < max) {
        char *end;
        out[n++] = strtod(v, &end);
        v = *end == ',' ? end + 1 : NULL;
    }
    return n;
}

static struct section *read_cfg(const char *path, int *n_out, int *code, char *err,
                                size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *code = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct section *s = NULL;
    int n = 0, cap = 0, lineno = 0;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        squeeze(line);
        if (!line[0] || line[0] == '#' || line[0] == ';') {
            continue;
        }
        if (line[0] == '[') {
            char *close = strchr(line, ']');
            if (!close) {
                *code = -EBADMSG;
                snprintf(err, errlen, "%s:%d: section header without ']'", path, lineno);
                goto fail;
            }
            *close = '\0';
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                s = grow(s, (size_t)cap * sizeof(*s));
            }
            s[n++] = (struct section){.type = so_xstrdup(line + 1), .line = lineno};
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || n == 0) {
            *code = -EBADMSG;
            snprintf(err, errlen, "%s:%d: expected key=value inside a section", path, lineno);
            goto fail;
        }
        *eq = '\0';
        if (!line[0] || !eq[1]) {
            continue;
        }
        struct section *cur = &s[n - 1];
        cur->kv = grow(cur->kv, (size_t)(cur->n_kv + 1) * sizeof(*cur->kv));
        cur->kv[cur->n_kv++] = (struct kv){so_xstrdup(line), so_xstrdup(eq + 1)};
    }
    fclose(f);
    *n_out = n;
    return s;
fail:
    fclose(f);
    free_sections(s, n);
    return NULL;
}

/* The weights file, consumed front to back. */
struct reader {
    const float *data;
    size_t n, at;
};

static bool take(struct reader *r, size_t count, const float **out)
{
    if (r->n - r->at < count) {
        return false;
    }
    *out = r->data + r->at;
    r->at += count;
    return true;
}

static float *read_weights(const char *path, size_t *n_floats, int *code, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *code = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    int32_t ver[3];
    long header = 0;
    float *buf = NULL;
    if (fread(ver, sizeof(int32_t), 3, f) == 3) {
        header = 12 + ((ver[0] * 10 + ver[1]) >= 2 ? 8 : 4);
    }
    if (!header || ver[0] > 1000 || ver[1] > 1000 || fseek(f, 0, SEEK_END) != 0) {
        *code = -EBADMSG;
        snprintf(err, errlen, "%s: not a darknet weights file (or transposed weights)", path);
        goto out;
    }
    long size = ftell(f);
    if (size < header || fseek(f, header, SEEK_SET) != 0) {
        *code = -EBADMSG;
        snprintf(err, errlen, "%s: truncated header", path);
        goto out;
    }
    *n_floats = (size_t)(size - header) / sizeof(float);
    buf = malloc(*n_floats * sizeof(float) + 1);
    if (!buf || fread(buf, sizeof(float), *n_floats, f) != *n_floats) {
        *code = -EIO;
        snprintf(err, errlen, "%s: cannot read %zu weights", path, *n_floats);
        free(buf);
        buf = NULL;
    }
out:
    fclose(f);
    return buf;
}

static enum so_dn_act parse_act(const char *a, bool *ok)
{
    *ok = true;
    if (!a || strcmp(a, "linear") == 0) {
        return SO_DN_LINEAR;
    }
    if (strcmp(a, "leaky") == 0) {
        return SO_DN_LEAKY;
    }
    if (strcmp(a, "relu") == 0) {
        return SO_DN_RELU;
    }
    *ok = false;
    return SO_DN_LINEAR;
}

/* Fill one convolution: shapes from the cfg, weights from the file (batch norm folded). */
static int load_conv(struct so_dn_layer *L, const struct section *s, struct reader *r,
                     const char *cfg, char *err, size_t errlen)
{
    bool ok;
    L->filters = get_int(s, "filters", 1);
    L->size = get_int(s, "size", 1);
    L->stride = get_int(s, "stride", 1);
    L->groups = get_int(s, "groups", 1);
    int pad = get_int(s, "pad", 0);
    L->padding = (pad && L->size >= 3) ? L->size / 2 : (pad ? 0 : get_int(s, "padding", 0));
    L->act = parse_act(get(s, "activation"), &ok);
    if (!ok || get_int(s, "dilation", 1) != 1 || get_int(s, "stride_x", L->stride) != L->stride ||
        get_int(s, "stride_y", L->stride) != L->stride || get_int(s, "flipped", 0) ||
        get(s, "share_index") || get_int(s, "binary", 0) || get_int(s, "xnor", 0)) {
        snprintf(err, errlen, "%s:%d: [convolutional] with an option not supported here "
                 "(activation %s)", cfg, s->line, get(s, "activation"));
        return -ENOTSUP;
    }
    if (L->filters <= 0 || L->size <= 0 || L->stride <= 0 || L->groups <= 0 ||
        L->in_c % L->groups || L->filters % L->groups) {
        snprintf(err, errlen, "%s:%d: [convolutional] with inconsistent filters/size/groups",
                 cfg, s->line);
        return -EBADMSG;
    }
    L->out_c = L->filters;
    L->out_h = (L->in_h + 2 * L->padding - L->size) / L->stride + 1;
    L->out_w = (L->in_w + 2 * L->padding - L->size) / L->stride + 1;
    bool bn = get_int(s, "batch_normalize", 0) == 1;
    size_t per_out = (size_t)(L->in_c / L->groups) * (size_t)L->size * (size_t)L->size;
    const float *bias, *scale = NULL, *mean = NULL, *var = NULL, *w;
    if (!take(r, (size_t)L->filters, &bias) ||
        (bn && (!take(r, (size_t)L->filters, &scale) || !take(r, (size_t)L->filters, &mean) ||
                !take(r, (size_t)L->filters, &var))) ||
        !take(r, per_out * (size_t)L->filters, &w)) {
        snprintf(err, errlen, "the weights file ends before the convolution at %s:%d", cfg,
                 s->line);
        return -EBADMSG;
    }
    L->weights = so_xcalloc(1, per_out * (size_t)L->filters * sizeof(float));
    L->bias = so_xcalloc(1, (size_t)L->filters * sizeof(float));
    for (int o = 0; o < L->filters; o++) {
        double k = 1.0, b = bias[o];
        if (bn) {
            k = scale[o] / sqrt((double)var[o] + 1e-6);
            b = bias[o] - mean[o] * k;
        }
        for (size_t i = 0; i < per_out; i++) {
            L->weights[(size_t)o * per_out + i] = (float)(w[(size_t)o * per_out + i] * k);
        }
        L->bias[o] = (float)b;
    }
    return 0;
}

static int build(struct so_darknet *net, const struct section *s, int n, struct reader *r,
                 const char *cfg, char *err, size_t errlen)
{
    net->layers = so_xcalloc((size_t)n, sizeof(*net->layers));
    int c = net->channels, h = net->height, w = net->width;
    for (int i = 0; i < n; i++) {
        struct so_dn_layer *L = &net->layers[i];
        const struct section *sec = &s[i];
        const char *t = sec->type;
        L->line = sec->line;
        L->in_c = c;
        L->in_h = h;
        L->in_w = w;
        L->out_c = c;
        L->out_h = h;
        L->out_w = w;
        net->n_layers = i + 1;
        if (strcmp(t, "convolutional") == 0) {
            L->kind = SO_DN_CONV;
            int rc = load_conv(L, sec, r, cfg, err, errlen);
            if (rc < 0) {
                return rc;
            }
        } else if (strcmp(t, "maxpool") == 0) {
            L->kind = SO_DN_MAXPOOL;
            L->size = get_int(sec, "size", 2);
            L->stride = get_int(sec, "stride", 2);
            L->padding = get_int(sec, "padding", L->size - 1);
            if (L->size <= 0 || L->stride <= 0 || get(sec, "maxpool_depth")) {
                snprintf(err, errlen, "%s:%d: [maxpool] not supported here", cfg, sec->line);
                return -ENOTSUP;
            }
            L->out_h = (h + L->padding - L->size) / L->stride + 1;
            L->out_w = (w + L->padding - L->size) / L->stride + 1;
        } else if (strcmp(t, "route") == 0 || strcmp(t, "shortcut") == 0) {
            bool route = t[0] == 'r';
            double v[SO_DN_MAX_FROM];
            int nf = get_list(sec, route ? "layers" : "from", v, SO_DN_MAX_FROM);
            L->kind = route ? SO_DN_ROUTE : SO_DN_SHORTCUT;
            if (nf == 0 || (!route && nf != 1) || (route && get_int(sec, "groups", 1) != 1)) {
                snprintf(err, errlen, "%s:%d: [%s] not supported here", cfg, sec->line, t);
                return -ENOTSUP;
            }
            L->n_from = nf;
            int sum_c = 0;
            for (int k = 0; k < nf; k++) {
                int idx = (int)v[k];
                idx = idx < 0 ? i + idx : idx;
                if (idx < 0 || idx >= i) {
                    snprintf(err, errlen, "%s:%d: [%s] refers to layer %d", cfg, sec->line, t,
                             (int)v[k]);
                    return -EBADMSG;
                }
                const struct so_dn_layer *F = &net->layers[idx];
                if (route && k > 0 && (F->out_h != h || F->out_w != w)) {
                    snprintf(err, errlen, "%s:%d: [route] of layers of different sizes", cfg,
                             sec->line);
                    return -EBADMSG;
                }
                h = F->out_h;
                w = F->out_w;
                L->from[k] = idx;
                sum_c += F->out_c;
            }
            bool ok;
            L->act = parse_act(get(sec, "activation"), &ok);
            if (!route && (!ok || L->act != SO_DN_LINEAR || get(sec, "weights_type") ||
                           net->layers[L->from[0]].out_c != c ||
                           net->layers[L->from[0]].out_h != L->in_h)) {
                snprintf(err, errlen, "%s:%d: [shortcut] other than a linear add of equal "
                         "shapes", cfg, sec->line);
                return -ENOTSUP;
            }
            if (route) {
                L->out_c = sum_c;
                L->out_h = h;
                L->out_w = w;
            }
        } else if (strcmp(t, "upsample") == 0) {
            L->kind = SO_DN_UPSAMPLE;
            if (get_int(sec, "stride", 2) != 2 || get_double(sec, "scale", 1) != 1) {
                snprintf(err, errlen, "%s:%d: [upsample] other than nearest 2x", cfg,
                         sec->line);
                return -ENOTSUP;
            }
            L->out_h = 2 * h;
            L->out_w = 2 * w;
        } else if (strcmp(t, "dropout") == 0) {
            L->kind = SO_DN_DROPOUT;
        } else if (strcmp(t, "yolo") == 0) {
            L->kind = SO_DN_YOLO;
            double mask[SO_DN_MAX_ANCHORS], anchors[4 * SO_DN_MAX_ANCHORS];
            int nm = get_list(sec, "mask", mask, SO_DN_MAX_ANCHORS);
            int na = get_list(sec, "anchors", anchors, 4 * SO_DN_MAX_ANCHORS);
            L->classes = get_int(sec, "classes", -1);
            L->scale_x_y = (float)get_double(sec, "scale_x_y", 1.0);
            if (get_int(sec, "new_coords", 0) != 0) {
                snprintf(err, errlen, "%s:%d: [yolo] new_coords not supported here", cfg,
                         sec->line);
                return -ENOTSUP;
            }
            if (nm <= 0 || L->classes <= 0 || c != nm * (5 + L->classes)) {
                snprintf(err, errlen, "%s:%d: [yolo] mask/classes do not match its input "
                         "(%d channels)", cfg, sec->line, c);
                return -EBADMSG;
            }
            for (int k = 0; k < nm; k++) {
                int a = (int)mask[k];
                if (a < 0 || 2 * a + 1 >= na) {
                    snprintf(err, errlen, "%s:%d: [yolo] mask %d has no anchor", cfg,
                             sec->line, a);
                    return -EBADMSG;
                }
                L->anchors[2 * k] = (float)anchors[2 * a];
                L->anchors[2 * k + 1] = (float)anchors[2 * a + 1];
            }
            L->n_anchors = nm;
        } else {
            snprintf(err, errlen, "%s:%d: layer [%s] not supported here", cfg, sec->line, t);
            return -ENOTSUP;
        }
        if (L->out_h <= 0 || L->out_w <= 0) {
            snprintf(err, errlen, "%s:%d: [%s] gives an empty output", cfg, sec->line, t);
            return -EBADMSG;
        }
        c = L->out_c;
        h = L->out_h;
        w = L->out_w;
    }
    return 0;
}

struct so_darknet *so_darknet_load(const char *cfg_path, const char *weights_path, int *code,
                                   char *err, size_t errlen)
{
    char dummy[1];
    int rc = 0;
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    int n = 0;
    size_t n_floats = 0;
    struct section *s = read_cfg(cfg_path, &n, &rc, err, errlen);
    float *weights = s ? read_weights(weights_path, &n_floats, &rc, err, errlen) : NULL;
    struct so_darknet *net = NULL;
    if (weights) {
        if (n < 2 || strcmp(s[0].type, "net") != 0) {
            rc = -EBADMSG;
            snprintf(err, errlen, "%s: expected [net] then layers", cfg_path);
        } else {
            net = so_xcalloc(1, sizeof(*net));
            net->width = get_int(&s[0], "width", 416);
            net->height = get_int(&s[0], "height", 416);
            net->channels = get_int(&s[0], "channels", 3);
            struct reader r = {weights, n_floats, 0};
            rc = build(net, s + 1, n - 1, &r, cfg_path, err, errlen);
            if (rc == 0 && r.at != r.n) {
                rc = -EBADMSG;
                snprintf(err, errlen, "%s: %zu weights left over after the last layer of %s",
                         weights_path, r.n - r.at, cfg_path);
            }
            if (rc < 0) {
                so_darknet_destroy(net);
                net = NULL;
            }
        }
    }
    free(weights);
    free_sections(s, n);
    if (code) {
        *code = rc;
    }
    return net;
}

void so_darknet_destroy(struct so_darknet *net)
{
    if (!net) {
        return;
    }
    for (int i = 0; i < net->n_layers; i++) {
        free(net->layers[i].weights);
        free(net->layers[i].bias);
    }
    free(net->layers);
    free(net);
}
