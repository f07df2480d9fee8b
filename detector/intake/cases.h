/*
 * The case desk's records in the intake's SQLite database (issue 16 item 2): one case per
 * episode, its review state and history, and the commands sent to the detectors about it.
 *
 *   cases         one row per episode_id: where (detector, camera, zone, grid, address), what
 *                 (kind, GB/T code and name), the detector's latest word (episode_state
 *                 opened/update/cleared, end_reason, dwell_s), the desk's state (new, confirmed,
 *                 rejected, closed) and the latest verification result.
 *   case_history  one row per change: who (an operator's user name, "detector", "auto"), the
 *                 action, from and to state, a note, the command it sent.
 *   commands      one row per command (streetorder.command.v1): pending (not sent yet: the
 *                 detector is not connected), sent, ok, failed; the detector's answer.
 *   events        gains an episode_id column (filled from each record's JSON for an old db).
 *
 * The states and what an operator may do in each are one table (so_case_next), which the pages
 * use too (a case lists the actions its state allows).
 *
 * Ownership: so_cases_open() borrows the database handle, which must outlive the table object
 * (so_cases_destroy() before sqlite3_close()). Thread-safety: none; the intake's one thread owns
 * the database and this object. Errors: negative errno codes, with a message in `err` where the
 * caller shows one to a person; database errors are logged here (tag "cases").
 */
#ifndef SO_INTAKE_CASES_H
#define SO_INTAKE_CASES_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

enum so_case_state {
    SO_CASE_NEW,            /* raised by a detector, not reviewed yet */
    SO_CASE_CONFIRMED,      /* 立案: an operator confirmed it */
    SO_CASE_REJECTED,       /* a false alarm (or permitted, or a fixture): dismissed */
    SO_CASE_CLOSED,         /* 结案: handled, or the detector saw the place empty (auto-close) */
    SO_CASE_N_STATES,
};

enum so_case_action {
    SO_CASE_CONFIRM,        /* new -> confirmed */
    SO_CASE_REJECT,         /* new/confirmed -> rejected; sends `dismiss` */
    SO_CASE_VERIFY,         /* 核查, state unchanged; sends `verify` */
    SO_CASE_CLOSE,          /* new/confirmed -> closed */
    SO_CASE_AUTO_CLOSE,     /* a `cleared` with reason `left` arrived (not an operator's) */
    SO_CASE_N_ACTIONS,
};

/* The state after `a` in `from` into *to and 0, or -EPERM and why (a static sentence) when the
 * action is not allowed in that state. Pure. */
int so_case_next(enum so_case_state from, enum so_case_action a, enum so_case_state *to,
                 const char **why);

/* Names as the database and the JSON API spell them; parse returns false for an unknown one. */
const char *so_case_state_name(enum so_case_state s);
bool so_case_state_parse(const char *name, enum so_case_state *out);
const char *so_case_action_name(enum so_case_action a);
bool so_case_action_parse(const char *name, enum so_case_action *out);

struct so_cases;

/*
 * Create the desk's tables in `db` (which already has `events` and `evidence`), migrating an
 * older database: the events' episode_id column is added and filled, and a case is built for
 * every episode already stored, by replaying its events in order (PRAGMA user_version 1).
 * `auto_close`: close a new or confirmed case when its `cleared` record says `left`.
 * NULL after logging why.
 */
struct so_cases *so_cases_open(sqlite3 *db, bool auto_close);

/* Free the prepared statements. Accepts NULL. */
void so_cases_destroy(struct so_cases *c);

/*
 * An event was just stored (call inside its transaction, so the case and the event are
 * durable together): create or update its episode's case, record a verification, auto-close.
 * `record` is the event JSON (borrowed), `received_at` an ISO-8601 time. Records without an
 * episode_id and warnings change no case. 0, or -EIO after logging.
 */
int so_cases_on_event(struct so_cases *c, json_t *record, const char *event_id,
                      const char *received_at);

/* What an operator's action gives back. */
struct so_case_result {
    char command_id[33];    /* the command it queued; "" when none */
    char err[200];          /* why it failed, for the person who asked */
};

/*
 * An operator's action on a case, in one transaction: the state change, its history row and,
 * for reject and verify, the command (status pending; so_cases_commands_due() sends it).
 * `args` (may be NULL): "note" for any action; for reject "reason" (false_alarm | permitted |
 * fixture, default false_alarm) and "until" (ISO-8601 with offset; absent: the detector's
 * default, +24 h). Returns 0, -ENOENT (no such case), -EPERM (not in this state), -EINVAL (a bad
 * argument) or -EIO; res->err says which.
 */
int so_cases_act(struct so_cases *c, const char *episode_id, enum so_case_action a,
                 const char *actor, json_t *args, struct so_case_result *res);

/*
 * Send what is due: every pending command, and every sent one without an answer for `retry_s`
 * (the same id again: the detector answers a replayed id without acting twice). `send` returns 0
 * when the command went out on the detector's connection, -ENOTCONN when that detector is not
 * connected (the command stays pending). A sent command unanswered after `max_sends` sends is
 * failed ("no answer"). Returns how many went out.
 */
typedef int (*so_cases_send_fn)(void *ctx, const char *detector_id, const char *command_id,
                                const char *json);
int so_cases_commands_due(struct so_cases *c, double retry_s, int max_sends,
                          so_cases_send_fn send, void *ctx);

/* A detector's answer (streetorder.command_result.v1) to command `id`, recorded with a history
 * row. 0, -ENOENT for an id the desk never sent, -EIO. */
int so_cases_command_answer(struct so_cases *c, const char *id, bool ok, bool duplicate,
                            const char *error);

/* The queue's filters; NULL fields do not filter. `day` is YYYY-MM-DD of started_at. */
struct so_case_filter {
    const char *state, *category, *camera, *grid, *day;
    int limit;              /* 0: 200 */
};

/*
 * The JSON documents of the API (docs/desk.md); each returns a new reference the caller
 * releases, NULL on a database error (logged).
 * list:    {"cases": [case row + "thumbs": {"before","at","after"} image URLs or null,
 *           "actions": [allowed]], "count"}
 * get:     case row + "actions", "events" (each with its "images"), "history", "commands";
 *          NULL with *missing true for an unknown episode
 * stats:   {"total", "by_state", "by_zone", "by_category", "by_hour" [24 counts]}
 * command: the command row; NULL with *missing true for an unknown id
 */
json_t *so_cases_list(struct so_cases *c, const struct so_case_filter *f);
json_t *so_cases_get(struct so_cases *c, const char *episode_id, bool *missing);
json_t *so_cases_stats(struct so_cases *c, const struct so_case_filter *f);
json_t *so_cases_command(struct so_cases *c, const char *id, bool *missing);

/* Evidence image `idx` of event `event_id`: a malloc()ed copy in *jpeg (caller frees).
 * 0, -ENOENT, -EIO. */
int so_cases_image(struct so_cases *c, const char *event_id, int idx, void **jpeg, size_t *size);

#endif
