/*
 * Why this file exists: with --curve-secret alone, the intake encrypts and proves its own
 * identity, but accepts any client that knows its public key, and public keys are not
 * secrets (they sit in every detector's config). A platform that wants to know *which*
 * devices may open cases lists their public keys; libzmq asks a ZAP handler (RFC 27) during
 * each CURVE handshake, and this file is the decision. A refused detector completes no
 * handshake, so nothing it sends reaches the ROUTER; its events stay in its outbox until it is
 * listed (or given a listed key pair) and reconnects.
 *
 * The decision is kept apart from the socket (intake.c owns the ZAP socket) so it can be
 * tested and fuzzed without ZeroMQ.
 */
#include "zap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct so_zap_allow {
    uint8_t (*keys)[32];
    size_t n;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct so_zap_allow *so_zap_allow_load(const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    struct so_zap_allow *list = calloc(1, sizeof(*list));
    if (!list) {
        abort();
    }
    char line[512];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line;
        while (is_space(*p)) {
            p++;
        }
        if (!*p || *p == '#') {
            continue;
        }
        size_t len = 0;
        while (p[len] && !is_space(p[len])) {
            len++;
        }
        uint8_t key[32];
        char z85[41];
        if (len != 40) {
            ok = false;
        } else {
            memcpy(z85, p, 40);
            z85[40] = '\0';
            ok = zmq_z85_decode(key, z85) != NULL;
        }
        if (!ok) {
            snprintf(err, err_size, "%s:%d: expected a 40-character Z85 public key (as "
                     "`streetorder keygen` prints it), got \"%.*s\"", path, lineno,
                     (int)(len > 60 ? 60 : len), p);
            break;
        }
        uint8_t(*keys)[32] = realloc(list->keys, (list->n + 1) * sizeof(*keys));
        if (!keys) {
            abort();
        }
        list->keys = keys;
        memcpy(list->keys[list->n++], key, 32);
    }
    fclose(f);
    if (ok && list->n == 0) {
        snprintf(err, err_size, "%s: no keys: expected one Z85 public key per line (an empty "
                 "list would refuse every detector)", path);
        ok = false;
    }
    if (!ok) {
        so_zap_allow_destroy(list);
        return NULL;
    }
    return list;
}

void so_zap_allow_destroy(struct so_zap_allow *list)
{
    if (!list) {
        return;
    }
    free(list->keys);
    free(list);
}

size_t so_zap_allow_count(const struct so_zap_allow *list)
{
    return list ? list->n : 0;
}

static bool frame_is(const struct so_intake_frame *f, const char *s)
{
    return f->size == strlen(s) && memcmp(f->data, s, f->size) == 0;
}

bool so_zap_decide(const struct so_zap_allow *list, const struct so_intake_frame *frames,
                   size_t n_frames, struct so_zap_decision *out)
{
    out->client_key[0] = '\0';
    if (n_frames < 6) {
        out->status = "500";
        out->text = "malformed ZAP request";
        return false;
    }
    if (!frame_is(&frames[0], "1.0")) {
        out->status = "500";
        out->text = "unsupported ZAP version";
        return true;
    }
    if (!frame_is(&frames[5], "CURVE") || n_frames != 7 || frames[6].size != 32) {
        out->status = "400";
        out->text = "only CURVE clients with a listed key are allowed";
        return true;
    }
    if (!zmq_z85_encode(out->client_key, frames[6].data, 32)) {
        out->client_key[0] = '\0';
    }
    for (size_t i = 0; list && i < list->n; i++) {
        if (memcmp(list->keys[i], frames[6].data, 32) == 0) {
            out->status = "200";
            out->text = "OK";
            return true;
        }
    }
    out->status = "400";
    out->text = "public key not in the allow-list";
    return true;
}
