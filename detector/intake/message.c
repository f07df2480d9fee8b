/*
 * Why this file exists: the intake's ROUTER socket is reachable by anything on the network (a
 * port scanner, an old detector, a fuzzer), so every message is validated before anything is
 * stored or acknowledged: the protocol tag, a decimal seq, a JSON object with the fields the
 * dispatch queue indexes, seq in the JSON equal to the frame's, and one JPEG frame per evidence
 * entry whose size and SHA-256 match what the record says. Kept free of I/O so a fuzzer can
 * drive it directly.
 */
#include "message.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"

/* The record schema this intake understands (event.h's SO_EVENT_SCHEMA; not included so the
 * intake and its fuzzer do not depend on the analysis headers). */
#define EVENT_SCHEMA "streetorder.event.v1"

static int fail(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static const char *str_field(json_t *obj, const char *key, size_t max)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v && strlen(v) <= max ? v : NULL;
}

int so_intake_parse(const struct so_intake_frame *frames, size_t n_frames,
                    struct so_intake_event *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (n_frames < 3) {
        return fail(why, why_size, "%zu frame%s, expected [\"SOE1\", seq, json, jpeg...]",
                    n_frames, n_frames == 1 ? "" : "s");
    }
    if (frames[0].size != 4 || memcmp(frames[0].data, "SOE1", 4) != 0) {
        return fail(why, why_size, "not the SOE1 protocol");
    }
    if (frames[1].size == 0 || frames[1].size > 19) {
        return fail(why, why_size, "seq is not a decimal number");
    }
    uint64_t seq = 0;
    for (size_t i = 0; i < frames[1].size; i++) {
        uint8_t c = frames[1].data[i];
        if (c < '0' || c > '9') {
            return fail(why, why_size, "seq is not a decimal number");
        }
        seq = seq * 10 + (uint64_t)(c - '0');
    }
    if (seq == 0) {
        return fail(why, why_size, "seq 0");
    }
    if (n_frames - 3 > SO_INTAKE_MAX_EVIDENCE) {
        return fail(why, why_size, "%zu images, at most %d expected", n_frames - 3,
                    SO_INTAKE_MAX_EVIDENCE);
    }
    json_error_t jerr;
    json_t *rec = json_loadb((const char *)frames[2].data, frames[2].size,
                             JSON_REJECT_DUPLICATES, &jerr);
    if (!rec) {
        return fail(why, why_size, "JSON: %s", jerr.text);
    }
    out->record = rec;
    out->seq = seq;
    int rc = 0;
    const char *schema = json_string_value(json_object_get(rec, "schema"));
    json_t *jseq = json_object_get(rec, "seq");
    out->event_id = str_field(rec, "event_id", 64);
    out->detector_id = str_field(rec, "detector_id", 64);
    out->camera_id = str_field(rec, "camera_id", 64);
    out->zone_id = str_field(rec, "zone_id", 64);
    out->kind = str_field(rec, "kind", 32);
    out->state = str_field(rec, "state", 16);
    json_t *start = json_object_get(rec, "media_start_s");
    json_t *end = json_object_get(rec, "media_end_s");
    json_t *ev = json_object_get(rec, "evidence");
    if (!json_is_object(rec)) {
        rc = fail(why, why_size, "JSON is not an object");
    } else if (!schema || strcmp(schema, EVENT_SCHEMA) != 0) {
        rc = fail(why, why_size, "schema is not %s", EVENT_SCHEMA);
    } else if (!json_is_integer(jseq) || (uint64_t)json_integer_value(jseq) != seq) {
        rc = fail(why, why_size, "seq in the JSON differs from the seq frame (%llu)",
                  (unsigned long long)seq);
    } else if (!out->event_id || !out->detector_id || !out->camera_id || !out->zone_id ||
               !out->kind || !out->state) {
        rc = fail(why, why_size, "missing event_id, detector_id, camera_id, zone_id, kind or "
                  "state");
    } else if (!json_is_number(start) || !(json_is_number(end) || json_is_null(end))) {
        rc = fail(why, why_size, "media_start_s / media_end_s are not numbers");
    } else if (!json_is_array(ev) || json_array_size(ev) != n_frames - 3) {
        rc = fail(why, why_size, "%zu image frames for %zu evidence entries", n_frames - 3,
                  json_is_array(ev) ? json_array_size(ev) : 0);
    }
    if (rc < 0) {
        so_intake_event_finish(out);
        return rc;
    }
    out->media_start_s = json_number_value(start);
    out->media_end_s = json_is_null(end) ? NAN : json_number_value(end);
    out->category_code = json_string_value(json_object_get(json_object_get(rec, "category"),
                                                           "code"));
    out->grid = json_string_value(json_object_get(rec, "grid"));
    for (size_t i = 0; i < json_array_size(ev); i++) {
        json_t *e = json_array_get(ev, i);
        struct so_intake_evidence *x = &out->evidence[i];
        const struct so_intake_frame *f = &frames[3 + i];
        x->role = str_field(e, "role", 16);
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        json_t *size = json_object_get(e, "size");
        x->jpeg = f->data;
        x->size = f->size;
        if (!x->role || !json_is_integer(size) || (size_t)json_integer_value(size) != f->size) {
            rc = fail(why, why_size, "evidence %zu: role or size does not match its frame", i);
            break;
        }
        so_sha256_hex(f->data, f->size, x->sha256);
        if (!sha || strcmp(sha, x->sha256) != 0) {
            rc = fail(why, why_size, "evidence %zu: sha256 does not match its frame", i);
            break;
        }
        out->n_evidence++;
    }
    if (rc < 0) {
        so_intake_event_finish(out);
    }
    return rc;
}

void so_intake_event_finish(struct so_intake_event *ev)
{
    if (ev) {
        json_decref(ev->record);
        memset(ev, 0, sizeof(*ev));
    }
}
