/*
 * Why this file exists: a command changes what the detector reports (an episode ended, an
 * object or a zone silenced), so what the platform may send is decided in one place, strictly:
 * every key is typed and bounded, times carry their offset, a window that already ended is an
 * error (the operator must hear it, not see it silently ignored). Anything else is garbage.
 *
 * The journal (cmdjournal.c) stores commands in the JSON of so_command_to_json(), which is
 * the command's own form plus the times as Unix seconds, so a replay needs no clock.
 */
#include "command.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

static const char *const reasons[] = {"false_alarm", "permitted", "fixture"};

bool so_command_id_valid(const char *id, size_t len)
{
    if (len < 1 || len > SO_COMMAND_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A string key of at most max-1 characters into out. */
static int get_str(json_t *o, const char *key, char *out, size_t max, char *err, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        return fail(err, size, "\"%s\" must be a string", key);
    }
    size_t n = json_string_length(v);
    if (n < 1 || n >= max) {
        return fail(err, size, "\"%s\" must have 1 to %zu characters", key, max - 1);
    }
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

static int get_time(json_t *o, const char *key, double *out, char *err, size_t size)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || so_time_parse_iso8601(json_string_value(v), out) < 0) {
        return fail(err, size, "\"%s\" must be an ISO-8601 time with an offset, "
                    "e.g. 2026-12-06T18:00:00+08:00", key);
    }
    return 0;
}

static int get_episode(json_t *o, struct so_command *c, char *err, size_t size)
{
    int rc = get_str(o, "episode_id", c->episode_id, sizeof(c->episode_id), err, size);
    if (rc < 0) {
        return rc;
    }
    bool hex = strlen(c->episode_id) == 32;
    for (int i = 0; hex && i < 32; i++) {
        char ch = c->episode_id[i];
        hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
    }
    return hex ? 0 : fail(err, size, "\"episode_id\" must be 32 lowercase hex digits");
}

static int parse_dismiss(json_t *o, struct so_command *c, double now, char *err, size_t size)
{
    int rc = get_episode(o, c, err, size);
    if (rc < 0 || (rc = get_str(o, "reason", c->reason, sizeof(c->reason), err, size)) < 0) {
        return rc;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(*reasons); i++) {
        known |= strcmp(c->reason, reasons[i]) == 0;
    }
    if (!known) {
        return fail(err, size, "\"reason\" must be false_alarm, permitted or fixture");
    }
    c->from_wall = now;
    c->until_wall = now + SO_COMMAND_DISMISS_S;
    if (json_object_get(o, "until") && (rc = get_time(o, "until", &c->until_wall, err, size)) < 0) {
        return rc;
    }
    return c->until_wall > now ? 0 : fail(err, size, "expired window: \"until\" is in the past");
}

static int parse_permit(json_t *o, struct so_command *c, double now, char *err, size_t size)
{
    int rc;
    if ((rc = get_str(o, "camera_id", c->camera_id, sizeof(c->camera_id), err, size)) < 0 ||
        (rc = get_str(o, "zone_id", c->zone_id, sizeof(c->zone_id), err, size)) < 0 ||
        (rc = get_time(o, "from", &c->from_wall, err, size)) < 0 ||
        (rc = get_time(o, "until", &c->until_wall, err, size)) < 0) {
        return rc;
    }
    if (c->from_wall >= c->until_wall) {
        return fail(err, size, "bad window: \"from\" must be before \"until\"");
    }
    return c->until_wall > now ? 0 : fail(err, size, "expired window: \"until\" is in the past");
}

static int parse_object(json_t *o, const char *id, double now, struct so_command *c, char *err,
                        size_t size)
{
    json_t *schema = json_object_get(o, "schema"), *jid = json_object_get(o, "id");
    if (!json_is_string(schema) || strcmp(json_string_value(schema), SO_COMMAND_SCHEMA) != 0) {
        return fail(err, size, "\"schema\" must be \"%s\"", SO_COMMAND_SCHEMA);
    }
    if (!json_is_string(jid) || strcmp(json_string_value(jid), id) != 0) {
        return fail(err, size, "\"id\" must be the command id of the message");
    }
    snprintf(c->id, sizeof(c->id), "%s", id);
    json_t *cmd = json_object_get(o, "command");
    const char *name = json_is_string(cmd) ? json_string_value(cmd) : "";
    if (strcmp(name, "verify") == 0) {
        c->kind = SO_COMMAND_VERIFY;
        c->from_wall = c->until_wall = now;     /* the journal keeps its id from then */
        return get_episode(o, c, err, size);
    }
    if (strcmp(name, "dismiss") == 0) {
        c->kind = SO_COMMAND_DISMISS;
        return parse_dismiss(o, c, now, err, size);
    }
    if (strcmp(name, "permit") == 0) {
        c->kind = SO_COMMAND_PERMIT;
        return parse_permit(o, c, now, err, size);
    }
    return fail(err, size, "\"command\" must be verify, dismiss or permit");
}

int so_command_parse(const char *id, const char *json, size_t len, double now_wall,
                     struct so_command *out, char *err, size_t err_size)
{
    *out = (struct so_command){0};
    if (len > SO_COMMAND_JSON_MAX) {
        return fail(err, err_size, "command of %zu bytes: at most %d", len, SO_COMMAND_JSON_MAX);
    }
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fail(err, err_size, "not a JSON object");
    }
    int rc = parse_object(o, id, now_wall, out, err, err_size);
    json_decref(o);
    return rc;
}

char *so_command_result(const char *id, bool ok, bool duplicate, const char *error)
{
    json_t *r = json_pack("{s:s, s:s, s:b}", "schema", SO_COMMAND_RESULT_SCHEMA, "id", id, "ok",
                          ok);
    if (!r) {
        return NULL;
    }
    if (duplicate) {
        json_object_set_new(r, "duplicate", json_true());
    }
    if (error) {
        json_object_set_new(r, "error", json_string(error));
    }
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

static const char *kind_name(enum so_command_kind k)
{
    return k == SO_COMMAND_VERIFY ? "verify" : k == SO_COMMAND_DISMISS ? "dismiss" : "permit";
}

json_t *so_command_to_json(const struct so_command *c)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f}", "id", c->id, "command",
                     kind_name(c->kind), "episode_id", c->episode_id, "reason", c->reason,
                     "camera_id", c->camera_id, "zone_id", c->zone_id, "from", c->from_wall,
                     "until", c->until_wall);
}

int so_command_from_json(const json_t *j, struct so_command *out)
{
    *out = (struct so_command){0};
    const char *id, *cmd, *ep, *reason, *cam, *zone;
    if (json_unpack((json_t *)j, "{s:s, s:s, s:s, s:s, s:s, s:s, s:F, s:F}", "id", &id,
                    "command", &cmd, "episode_id", &ep, "reason", &reason, "camera_id", &cam,
                    "zone_id", &zone, "from", &out->from_wall, "until", &out->until_wall) != 0 ||
        !so_command_id_valid(id, strlen(id))) {
        return -EINVAL;
    }
    for (int k = SO_COMMAND_VERIFY; k <= SO_COMMAND_PERMIT; k++) {
        if (strcmp(cmd, kind_name(k)) == 0) {
            out->kind = k;
        }
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->episode_id, sizeof(out->episode_id), "%s", ep);
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
    snprintf(out->camera_id, sizeof(out->camera_id), "%s", cam);
    snprintf(out->zone_id, sizeof(out->zone_id), "%s", zone);
    return out->kind ? 0 : -EINVAL;
}
