/*
 * Commands from the case platform (docs/delivery.md "Commands", schemas
 * config/command.schema.json and config/command_result.schema.json): the message
 * [ "CMD", id, json ] parsed into a small value type, and the JSON of the answer
 * [ "CRES", id, json ].
 *
 * Pure functions on values: thread-safe, no I/O. Times are Unix seconds (wall clock).
 */
#ifndef SO_DELIVERY_COMMAND_H
#define SO_DELIVERY_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SO_COMMAND_SCHEMA "streetorder.command.v1"
#define SO_COMMAND_RESULT_SCHEMA "streetorder.command_result.v1"
#define SO_COMMAND_ID_MAX 64            /* characters of a command id */
#define SO_COMMAND_JSON_MAX 4096        /* bytes of a command's JSON: more is garbage */
#define SO_COMMAND_DISMISS_S (24 * 3600.0)  /* a dismissal without `until` lasts this long */

enum so_command_kind {
    SO_COMMAND_VERIFY = 1,
    SO_COMMAND_DISMISS,
    SO_COMMAND_PERMIT,
};

struct so_command {
    enum so_command_kind kind;
    char id[SO_COMMAND_ID_MAX + 1];
    char episode_id[33];        /* verify, dismiss */
    char reason[16];            /* dismiss: false_alarm | permitted | fixture */
    char camera_id[64];         /* permit */
    char zone_id[64];           /* permit */
    double from_wall;           /* permit: window start; dismiss, verify: when received */
    double until_wall;          /* dismiss, permit: window end; verify: when received */
};

/* Is id[0..len) a command id: 1..SO_COMMAND_ID_MAX characters of [A-Za-z0-9._-]? */
bool so_command_id_valid(const char *id, size_t len);

/*
 * Parse and check the JSON of command `id` (already checked by so_command_id_valid) received
 * at `now_wall`. Returns 0 with *out filled, or -EINVAL with a clear message in err (not JSON,
 * wrong schema or id, unknown command, missing or mistyped keys, bad episode id or time, a
 * window that has ended or whose start is not before its end).
 */
int so_command_parse(const char *id, const char *json, size_t len, double now_wall,
                     struct so_command *out, char *err, size_t err_size);

/* The answer's JSON (malloc()ed, compact): ok, "duplicate" when set, "error" when not NULL.
 * NULL only when out of memory. */
char *so_command_result(const char *id, bool ok, bool duplicate, const char *error);

/* The command as JSON (a new reference), the form the journal stores. */
json_t *so_command_to_json(const struct so_command *c);

/* Its inverse for the journal's lines: 0 or -EINVAL (the journal is trusted less than not). */
int so_command_from_json(const json_t *j, struct so_command *out);

#endif
