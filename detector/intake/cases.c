/*
 * Why this file exists: a detector reports episodes (opened, update, cleared), but a dispatch
 * centre works cases: an operator confirms (立案) or rejects the AI's case, asks the detector to
 * look again (核查) and closes it (结案). This file keeps those cases beside the events in the
 * same SQLite database, so that a case and the event that changed it are committed together
 * (the intake acknowledges an event only once both are durable), and a city's platform can read
 * the same tables.
 *
 * Design:
 * - One case per episode_id, created by the first record of the episode that arrives (usually
 *   `opened`; for a database older than the desk, by replaying the stored events once).
 * - The desk's state (new/confirmed/rejected/closed) is separate from the detector's word about
 *   the episode (episode_state: opened/update/cleared): an operator may confirm a case the
 *   detector already cleared, and a cleared episode stays in the queue until someone looks.
 * - What may happen in which state is one table, `next_state`; so_cases_act() and the pages (the
 *   actions a case offers) both read it. Auto-close (a `cleared` whose reason is `left`: the
 *   detector saw the place empty) is an action of the same table by the actor "auto".
 * - Commands are rows before they are messages: an action writes its command as `pending` in
 *   the same transaction as the state change; the intake's loop sends what is due
 *   (so_cases_commands_due) to the detector's connection when it has one, and again with the
 *   same id when no answer came (the detector answers a replayed id without acting twice). A
 *   command to a detector that is not connected stays pending, visible on the case page, and
 *   goes out when that detector delivers again. Nothing is lost across an intake restart.
 * - A reject stands even when the detector answers with an error (say, the episode already
 *   ended there): the operator's judgement is the case's state; the failed command shows on the
 *   page beside it.
 * - The JSON documents are built from the query's own column names (row_object), so the API
 *   and the SQL cannot disagree about a field's name.
 */
#include "cases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "categories.h"
#include "enumname.h"
#include "episode.h"
#include "log.h"
#include "timeutil.h"
#include "xalloc.h"

#define WHO "cases"

static const char *const state_names[SO_CASE_N_STATES] = {"new", "confirmed", "rejected",
                                                          "closed"};
static const char *const action_names[SO_CASE_N_ACTIONS] = {"confirm", "reject", "verify",
                                                            "close", "auto_close"};

/* -1: not allowed. Rows: from state; columns: action. */
static const signed char next_state[SO_CASE_N_STATES][SO_CASE_N_ACTIONS] = {
    /*               confirm            reject            verify             close
     *               auto_close */
    [SO_CASE_NEW] = {SO_CASE_CONFIRMED, SO_CASE_REJECTED, SO_CASE_NEW, SO_CASE_CLOSED,
                     SO_CASE_CLOSED},
    [SO_CASE_CONFIRMED] = {-1, SO_CASE_REJECTED, SO_CASE_CONFIRMED, SO_CASE_CLOSED,
                           SO_CASE_CLOSED},
    [SO_CASE_REJECTED] = {-1, -1, -1, -1, -1},
    [SO_CASE_CLOSED] = {-1, -1, -1, -1, -1},
};

static const char *const refusals[SO_CASE_N_STATES] = {
    "",
    "the case is already confirmed",
    "the case was rejected as a false alarm: nothing more to do",
    "the case is closed: nothing more to do",
};

int so_case_next(enum so_case_state from, enum so_case_action a, enum so_case_state *to,
                 const char **why)
{
    if ((unsigned)from >= SO_CASE_N_STATES || (unsigned)a >= SO_CASE_N_ACTIONS ||
        next_state[from][a] < 0) {
        *why = (unsigned)from < SO_CASE_N_STATES ? refusals[from] : "unknown state";
        return -EPERM;
    }
    *to = (enum so_case_state)next_state[from][a];
    *why = NULL;
    return 0;
}

const char *so_case_state_name(enum so_case_state s)
{
    const char *n = so_enum_name(state_names, SO_CASE_N_STATES, (int)s);
    return n ? n : "?";
}

bool so_case_state_parse(const char *name, enum so_case_state *out)
{
    int i;
    bool ok = so_enum_parse(state_names, SO_CASE_N_STATES, name, &i);
    *out = ok ? (enum so_case_state)i : *out;
    return ok;
}

const char *so_case_action_name(enum so_case_action a)
{
    const char *n = so_enum_name(action_names, SO_CASE_N_ACTIONS, (int)a);
    return n ? n : "?";
}

bool so_case_action_parse(const char *name, enum so_case_action *out)
{
    int i;
    bool ok = so_enum_parse(action_names, SO_CASE_N_ACTIONS, name, &i);
    *out = ok ? (enum so_case_action)i : *out;
    return ok;
}

/* ---- schema -------------------------------------------------------------------------------- */

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS cases ("
    "  episode_id TEXT PRIMARY KEY,"
    "  detector_id TEXT NOT NULL, camera_id TEXT NOT NULL, zone_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL, category_code TEXT, category_name TEXT, grid TEXT, address TEXT,"
    "  state TEXT NOT NULL DEFAULT 'new', state_changed_at TEXT NOT NULL,"
    "  episode_state TEXT NOT NULL, end_reason TEXT,"
    "  started_at TEXT, ended_at TEXT, dwell_s REAL,"
    "  first_received_at TEXT NOT NULL, last_received_at TEXT NOT NULL,"
    "  last_event_id TEXT NOT NULL,"
    "  verify_result TEXT, verify_reason TEXT, verify_event_id TEXT, verified_at TEXT);"
    "CREATE INDEX IF NOT EXISTS cases_state ON cases(state);"
    "CREATE INDEX IF NOT EXISTS cases_started ON cases(started_at);"
    "CREATE TABLE IF NOT EXISTS case_history ("
    "  id INTEGER PRIMARY KEY, episode_id TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,"
    "  action TEXT NOT NULL, from_state TEXT, to_state TEXT, note TEXT, command_id TEXT);"
    "CREATE INDEX IF NOT EXISTS case_history_episode ON case_history(episode_id);"
    "CREATE TABLE IF NOT EXISTS commands ("
    "  id TEXT PRIMARY KEY, detector_id TEXT NOT NULL, episode_id TEXT,"
    "  command TEXT NOT NULL, json TEXT NOT NULL, status TEXT NOT NULL,"
    "  error TEXT, duplicate INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at TEXT NOT NULL, sent_at TEXT, sent_wall REAL, answered_at TEXT);"
    "CREATE INDEX IF NOT EXISTS commands_status ON commands(status);";

struct so_cases {
    sqlite3 *db;
    bool auto_close;
    sqlite3_stmt *upsert, *history, *get_state, *set_state, *verified, *ins_command;
};

static bool exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        so_err(WHO, "%s", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return false;
    }
    return true;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        so_err(WHO, "%s", sqlite3_errmsg(db));
        return NULL;
    }
    return s;
}

static bool has_column(sqlite3 *db, const char *table, const char *column)
{
    char *sql = so_xprintf("SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'", table,
                           column);
    sqlite3_stmt *s = prepare(db, sql);
    free(sql);
    bool yes = s && sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return yes;
}

/* Replay every stored event into the new tables (a database older than the desk). */
static bool backfill(struct so_cases *c)
{
    sqlite3_stmt *s = prepare(c->db, "SELECT event_id, received_at, json FROM events ORDER BY id");
    if (!s) {
        return false;
    }
    bool ok = true;
    long n = 0;
    while (ok && sqlite3_step(s) == SQLITE_ROW) {
        json_t *rec = json_loads((const char *)sqlite3_column_text(s, 2), 0, NULL);
        if (rec) {
            ok = so_cases_on_event(c, rec, (const char *)sqlite3_column_text(s, 0),
                                   (const char *)sqlite3_column_text(s, 1)) == 0;
            json_decref(rec);
            n++;
        }
    }
    sqlite3_finalize(s);
    if (ok && n) {
        so_info(WHO, "built the cases of %ld stored event%s", n, n == 1 ? "" : "s");
    }
    return ok;
}

static bool prepare_all(struct so_cases *c)
{
    c->upsert = prepare(c->db,
        "INSERT INTO cases (episode_id, detector_id, camera_id, zone_id, kind, category_code,"
        " category_name, grid, address, state_changed_at, episode_state, end_reason, started_at,"
        " ended_at, dwell_s, first_received_at, last_received_at, last_event_id)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?10,?10,?16)"
        " ON CONFLICT(episode_id) DO UPDATE SET episode_state = excluded.episode_state,"
        " end_reason = excluded.end_reason, ended_at = excluded.ended_at,"
        " dwell_s = excluded.dwell_s, last_received_at = excluded.last_received_at,"
        " last_event_id = excluded.last_event_id,"
        " address = coalesce(excluded.address, address), grid = coalesce(excluded.grid, grid)");
    c->history = prepare(c->db,
        "INSERT INTO case_history (episode_id, at, actor, action, from_state, to_state, note,"
        " command_id) VALUES (?,?,?,?,?,?,?,?)");
    c->get_state = prepare(c->db, "SELECT state, detector_id FROM cases WHERE episode_id = ?");
    c->set_state = prepare(c->db,
        "UPDATE cases SET state = ?2, state_changed_at = ?3 WHERE episode_id = ?1");
    c->verified = prepare(c->db,
        "UPDATE cases SET verify_result = ?2, verify_reason = ?3, verify_event_id = ?4,"
        " verified_at = ?5 WHERE episode_id = ?1");
    c->ins_command = prepare(c->db,
        "INSERT INTO commands (id, detector_id, episode_id, command, json, status, created_at)"
        " VALUES (?,?,?,?,?,'pending',?)");
    return c->upsert && c->history && c->get_state && c->set_state && c->verified &&
           c->ins_command;
}

struct so_cases *so_cases_open(sqlite3 *db, bool auto_close)
{
    struct so_cases *c = so_xcalloc(1, sizeof(*c));
    c->db = db;
    c->auto_close = auto_close;
    if (!exec(db, "BEGIN IMMEDIATE")) {
        free(c);
        return NULL;
    }
    sqlite3_stmt *v = prepare(db, "PRAGMA user_version");
    int version = v && sqlite3_step(v) == SQLITE_ROW ? sqlite3_column_int(v, 0) : -1;
    sqlite3_finalize(v);
    bool ok = version >= 0 && exec(db, schema_v1);
    if (ok && !has_column(db, "events", "episode_id")) {
        ok = exec(db, "ALTER TABLE events ADD COLUMN episode_id TEXT;"
                      "UPDATE events SET episode_id = json_extract(json, '$.episode_id');");
    }
    ok = ok && exec(db, "CREATE INDEX IF NOT EXISTS events_episode ON events(episode_id)") &&
         prepare_all(c);
    if (ok && version < 1) {
        ok = backfill(c) && exec(db, "PRAGMA user_version = 1");
    }
    if (!ok || !exec(db, "COMMIT")) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        so_err(WHO, "cannot create or migrate the case tables");
        so_cases_destroy(c);
        return NULL;
    }
    return c;
}

void so_cases_destroy(struct so_cases *c)
{
    if (!c) {
        return;
    }
    sqlite3_finalize(c->upsert);
    sqlite3_finalize(c->history);
    sqlite3_finalize(c->get_state);
    sqlite3_finalize(c->set_state);
    sqlite3_finalize(c->verified);
    sqlite3_finalize(c->ins_command);
    free(c);
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Bind a text or NULL. */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(s, i);
    }
}

static int step_done(struct so_cases *c, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        so_err(WHO, "%s", sqlite3_errmsg(c->db));
        return -EIO;
    }
    return 0;
}

static int add_history(struct so_cases *c, const char *episode_id, const char *at,
                       const char *actor, const char *action, const char *from, const char *to,
                       const char *note, const char *command_id)
{
    const char *v[] = {episode_id, at, actor, action, from, to, note,
                       command_id && *command_id ? command_id : NULL};
    for (int i = 0; i < 8; i++) {
        bind_text(c->history, i + 1, v[i]);
    }
    return step_done(c, c->history);
}

/* The case's state (and detector) into the out-parameters: 0, -ENOENT, -EIO. */
static int case_state(struct so_cases *c, const char *episode_id, enum so_case_state *state,
                      char detector[65])
{
    sqlite3_stmt *s = c->get_state;
    bind_text(s, 1, episode_id);
    int rc = sqlite3_step(s);
    int result = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
    if (result == 0) {
        if (!so_case_state_parse((const char *)sqlite3_column_text(s, 0), state)) {
            result = -EIO;
        }
        if (detector) {
            snprintf(detector, 65, "%s", (const char *)sqlite3_column_text(s, 1));
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return result;
}

static int set_state(struct so_cases *c, const char *episode_id, enum so_case_state to,
                     const char *at)
{
    bind_text(c->set_state, 1, episode_id);
    bind_text(c->set_state, 2, so_case_state_name(to));
    bind_text(c->set_state, 3, at);
    return step_done(c, c->set_state);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* opened / update / cleared: the case row, its history, and auto-close. */
static int on_episode_record(struct so_cases *c, json_t *rec, const char *event_id,
                             const char *at)
{
    const char *episode = jstr(rec, "episode_id"), *state = jstr(rec, "state");
    json_t *cat = json_object_get(rec, "category");
    const char *code = jstr(cat, "code"), *name = jstr(cat, "name");
    if (!name && code) {
        name = so_category_name(code);
    }
    bool exists = case_state(c, episode, &(enum so_case_state){0}, NULL) == 0;
    sqlite3_stmt *s = c->upsert;
    const char *v[] = {episode, jstr(rec, "detector_id"), jstr(rec, "camera_id"),
                       jstr(rec, "zone_id"), jstr(rec, "kind"), code, name, jstr(rec, "grid"),
                       jstr(rec, "address"), at, state, jstr(rec, "reason"),
                       jstr(rec, "started_at"), jstr(rec, "ended_at")};
    for (int i = 0; i < 14; i++) {
        bind_text(s, i + 1, v[i]);
    }
    json_t *dwell = json_object_get(rec, "dwell_s");
    if (json_is_number(dwell)) {
        sqlite3_bind_double(s, 15, json_number_value(dwell));
    }
    bind_text(s, 16, event_id);
    int rc = step_done(c, s);
    if (rc == 0 && !exists) {
        rc = add_history(c, episode, at, "detector", "opened", NULL, "new", state, NULL);
    }
    if (rc < 0 || strcmp(state, "cleared") != 0) {
        return rc;
    }
    const char *reason = jstr(rec, "reason");
    char *note = so_xprintf("cleared: %s", reason ? reason : "no reason given");
    rc = add_history(c, episode, at, "detector", "cleared", NULL, NULL, note, NULL);
    free(note);
    enum so_case_state from, to;
    const char *why;
    if (rc == 0 && c->auto_close && reason && strcmp(reason, "left") == 0 &&
        case_state(c, episode, &from, NULL) == 0 &&
        so_case_next(from, SO_CASE_AUTO_CLOSE, &to, &why) == 0) {
        rc = set_state(c, episode, to, at);
        if (rc == 0) {
            rc = add_history(c, episode, at, "auto", "auto_close", so_case_state_name(from),
                             so_case_state_name(to), "the detector saw the place empty again",
                             NULL);
        }
    }
    return rc;
}

/* A verification record: the answer to a verify command. */
static int on_verification(struct so_cases *c, json_t *rec, const char *event_id,
                           const char *at)
{
    const char *episode = jstr(rec, "episode_id");
    json_t *ver = json_object_get(rec, "verification");
    const char *result = jstr(ver, "result"), *reason = jstr(ver, "reason");
    if (case_state(c, episode, &(enum so_case_state){0}, NULL) != 0) {
        so_warn(WHO, "verification %s for episode %s, which has no case: kept as an event only",
                event_id, episode);
        return 0;
    }
    const char *v[] = {episode, result ? result : "unknown", reason, event_id, at};
    for (int i = 0; i < 5; i++) {
        bind_text(c->verified, i + 1, v[i]);
    }
    int rc = step_done(c, c->verified);
    if (rc == 0) {
        char *note = so_xprintf("%s%s%s", result ? result : "unknown", reason ? ": " : "",
                                reason ? reason : "");
        rc = add_history(c, episode, at, "detector", "verification", NULL, NULL, note,
                         jstr(ver, "command_id"));
        free(note);
    }
    return rc;
}

int so_cases_on_event(struct so_cases *c, json_t *record, const char *event_id,
                      const char *received_at)
{
    const char *episode = jstr(record, "episode_id"), *state = jstr(record, "state");
    if (!episode || !state) {
        return 0;
    }
    if (!strcmp(state, "opened") || !strcmp(state, "update") || !strcmp(state, "cleared")) {
        return on_episode_record(c, record, event_id, received_at);
    }
    if (!strcmp(state, "verification")) {
        return on_verification(c, record, event_id, received_at);
    }
    return 0;   /* warning, warning_cleared: no case (yet) */
}

/* The command an action sends, as JSON text (caller frees); NULL with res->err when an
 * argument is bad. */
static char *command_json(enum so_case_action a, const char *id, const char *episode,
                          json_t *args, struct so_case_result *res)
{
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:s}", "schema", "streetorder.command.v1", "id", id,
                            "command", a == SO_CASE_REJECT ? "dismiss" : "verify",
                            "episode_id", episode);
    if (a == SO_CASE_REJECT) {
        json_t *reason = json_object_get(args, "reason"), *until = json_object_get(args, "until");
        const char *r = reason ? json_string_value(reason) : "false_alarm";
        if (!r || (strcmp(r, "false_alarm") && strcmp(r, "permitted") && strcmp(r, "fixture"))) {
            snprintf(res->err, sizeof(res->err),
                     "reason: expected false_alarm, permitted or fixture");
            json_decref(cmd);
            return NULL;
        }
        json_object_set_new(cmd, "reason", json_string(r));
        if (until && !json_is_null(until)) {
            const char *u = json_string_value(until);
            if (!u || strlen(u) < 19 || strlen(u) > 40) {
                snprintf(res->err, sizeof(res->err),
                         "until: expected an ISO-8601 time with its offset");
                json_decref(cmd);
                return NULL;
            }
            json_object_set_new(cmd, "until", json_string(u));
        }
    }
    char *text = json_dumps(cmd, JSON_COMPACT);
    json_decref(cmd);
    return text;
}

/*
 * Long for a reason: one transaction with its ladder (look up, decide, queue the command, change
 * the state, write the history, commit), each step able to fail and roll it all back.
 */
int so_cases_act(struct so_cases *c, const char *episode_id, enum so_case_action a,
                 const char *actor, json_t *args, struct so_case_result *res)
{
    memset(res, 0, sizeof(*res));
    if (!exec(c->db, "BEGIN IMMEDIATE")) {
        snprintf(res->err, sizeof(res->err), "database busy or failing");
        return -EIO;
    }
    enum so_case_state from = SO_CASE_NEW, to = SO_CASE_NEW;
    char detector[65] = "";
    const char *why = NULL;
    char *cmd = NULL;
    int rc = case_state(c, episode_id, &from, detector);
    if (rc == -ENOENT) {
        snprintf(res->err, sizeof(res->err), "no case for episode %s", episode_id);
    } else if (rc == 0 && (rc = so_case_next(from, a, &to, &why)) < 0) {
        snprintf(res->err, sizeof(res->err), "cannot %s: %s", so_case_action_name(a), why);
    } else if (rc == 0 && (a == SO_CASE_REJECT || a == SO_CASE_VERIFY)) {
        so_random_id(res->command_id);
        cmd = command_json(a, res->command_id, episode_id, args, res);
        if (!cmd) {
            rc = -EINVAL;
        }
    }
    json_t *jnote = json_object_get(args, "note");
    if (rc == 0 && jnote && (!json_is_string(jnote) || strlen(json_string_value(jnote)) > 500)) {
        snprintf(res->err, sizeof(res->err), "note: expected a text of at most 500 bytes");
        rc = -EINVAL;
    }
    char at[40];
    so_time_iso8601(so_time_wall(), at, sizeof(at));
    if (rc == 0 && cmd) {
        const char *v[] = {res->command_id, detector, episode_id,
                           a == SO_CASE_REJECT ? "dismiss" : "verify", cmd, at};
        for (int i = 0; i < 6; i++) {
            bind_text(c->ins_command, i + 1, v[i]);
        }
        rc = step_done(c, c->ins_command);
    }
    if (rc == 0 && to != from) {
        rc = set_state(c, episode_id, to, at);
    }
    if (rc == 0) {
        rc = add_history(c, episode_id, at, actor, so_case_action_name(a),
                         so_case_state_name(from), so_case_state_name(to),
                         json_string_value(jnote), res->command_id);
    }
    free(cmd);
    if (rc == -EIO || (rc == 0 && !exec(c->db, "COMMIT"))) {
        snprintf(res->err, sizeof(res->err), "database error (logged)");
        rc = -EIO;
    }
    if (rc < 0) {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        res->command_id[0] = 0;
    }
    return rc;
}

/* ---- commands ------------------------------------------------------------------------------ */

struct due {
    char id[65], detector[65];
    char *json;
    int attempts;
};

int so_cases_commands_due(struct so_cases *c, double retry_s, int max_sends,
                          so_cases_send_fn send, void *ctx)
{
    double now = so_time_wall();
    sqlite3_stmt *s = prepare(c->db,
        "SELECT id, detector_id, json, attempts FROM commands WHERE status = 'pending'"
        " OR (status = 'sent' AND sent_wall < ?) ORDER BY created_at LIMIT 64");
    if (!s) {
        return -EIO;
    }
    sqlite3_bind_double(s, 1, now - retry_s);
    struct due due[64];
    int n = 0;
    while (n < 64 && sqlite3_step(s) == SQLITE_ROW) {
        snprintf(due[n].id, sizeof(due[n].id), "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(due[n].detector, sizeof(due[n].detector), "%s",
                 (const char *)sqlite3_column_text(s, 1));
        due[n].json = so_xstrdup((const char *)sqlite3_column_text(s, 2));
        due[n].attempts = sqlite3_column_int(s, 3);
        n++;
    }
    sqlite3_finalize(s);
    sqlite3_stmt *sent = prepare(c->db,
        "UPDATE commands SET status = 'sent', attempts = attempts + 1, sent_at = ?2,"
        " sent_wall = ?3 WHERE id = ?1");
    sqlite3_stmt *gave_up = prepare(c->db,
        "UPDATE commands SET status = 'failed', error = ?2, answered_at = ?3 WHERE id = ?1");
    char at[40];
    so_time_iso8601(now, at, sizeof(at));
    int went = 0;
    for (int i = 0; i < n; i++) {
        if (due[i].attempts >= max_sends && sent && gave_up) {
            char *err = so_xprintf("no answer from detector %s after %d sends",
                                   due[i].detector, due[i].attempts);
            so_warn(WHO, "command %s: %s", due[i].id, err);
            bind_text(gave_up, 1, due[i].id);
            bind_text(gave_up, 2, err);
            bind_text(gave_up, 3, at);
            step_done(c, gave_up);
            free(err);
        } else if (sent && gave_up && send(ctx, due[i].detector, due[i].id, due[i].json) == 0) {
            bind_text(sent, 1, due[i].id);
            bind_text(sent, 2, at);
            sqlite3_bind_double(sent, 3, now);
            step_done(c, sent);
            went++;
        }
        free(due[i].json);
    }
    sqlite3_finalize(sent);
    sqlite3_finalize(gave_up);
    return went;
}

int so_cases_command_answer(struct so_cases *c, const char *id, bool ok, bool duplicate,
                            const char *error)
{
    sqlite3_stmt *s = prepare(c->db,
        "UPDATE commands SET status = ?2, error = ?3, duplicate = ?4, answered_at = ?5"
        " WHERE id = ?1 RETURNING episode_id, command");
    if (!s) {
        return -EIO;
    }
    char at[40];
    so_time_iso8601(so_time_wall(), at, sizeof(at));
    bind_text(s, 1, id);
    bind_text(s, 2, ok ? "ok" : "failed");
    bind_text(s, 3, ok ? NULL : error ? error : "no reason given");
    sqlite3_bind_int(s, 4, duplicate);
    bind_text(s, 5, at);
    int rc = sqlite3_step(s);
    int result = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
    char *episode = NULL, *note = NULL;
    if (result == 0) {
        episode = so_xstrdup((const char *)sqlite3_column_text(s, 0));
        note = so_xprintf("%s: %s%s%s", (const char *)sqlite3_column_text(s, 1),
                          ok ? "ok" : "failed", ok ? "" : ": ",
                          ok ? (duplicate ? " (repeated answer)" : "")
                             : error ? error : "no reason given");
    }
    sqlite3_finalize(s);
    if (result == 0) {
        result = add_history(c, episode, at, "detector", "answer", NULL, NULL, note, id);
    }
    free(episode);
    free(note);
    return result;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* The current row of `s` as an object keyed by the query's column names. */
static json_t *row_object(sqlite3_stmt *s)
{
    json_t *o = json_object();
    for (int i = 0; i < sqlite3_column_count(s); i++) {
        json_t *v;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            v = json_integer(sqlite3_column_int64(s, i));
            break;
        case SQLITE_FLOAT:
            v = json_real(sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT:
            v = json_string((const char *)sqlite3_column_text(s, i));
            break;
        default:
            v = json_null();
        }
        json_object_set_new(o, sqlite3_column_name(s, i), v ? v : json_null());
    }
    return o;
}

/* Every row of `s` (bound already; finalized here) as an array, NULL on an error. */
static json_t *rows(struct so_cases *c, sqlite3_stmt *s)
{
    json_t *a = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(a, row_object(s));
    }
    if (rc != SQLITE_DONE) {
        so_err(WHO, "%s", sqlite3_errmsg(c->db));
        json_decref(a);
        a = NULL;
    }
    sqlite3_finalize(s);
    return a;
}

static json_t *query(struct so_cases *c, const char *sql, const char *arg)
{
    sqlite3_stmt *s = prepare(c->db, sql);
    if (!s) {
        return NULL;
    }
    bind_text(s, 1, arg);
    return rows(c, s);
}

static void add_actions(json_t *cs)
{
    enum so_case_state st, to;
    const char *why;
    json_t *acts = json_array();
    if (so_case_state_parse(jstr(cs, "state"), &st)) {
        for (int a = 0; a < SO_CASE_AUTO_CLOSE; a++) {
            if (so_case_next(st, (enum so_case_action)a, &to, &why) == 0) {
                json_array_append_new(acts, json_string(action_names[a]));
            }
        }
    }
    json_object_set_new(cs, "actions", acts);
}

static char *image_url(const char *event_id, long long idx)
{
    return so_xprintf("/api/images/%s/%lld", event_id, idx);
}

/* The latest image of each role among the episode's events: before (rest), at (confirm),
 * after. */
static void add_thumbs(struct so_cases *c, json_t *cs)
{
    json_t *imgs = query(c,
        "SELECT v.role, v.event_id, v.idx FROM evidence v JOIN events e USING (event_id)"
        " WHERE e.episode_id = ? ORDER BY e.id, v.idx", jstr(cs, "episode_id"));
    static const char *const roles[3][2] = {{"rest", "before"}, {"confirm", "at"},
                                            {"after", "after"}};
    json_t *thumbs = json_object();
    for (int r = 0; r < 3; r++) {
        json_object_set_new(thumbs, roles[r][1], json_null());
    }
    size_t i;
    json_t *img;
    json_array_foreach(imgs, i, img) {
        for (int r = 0; r < 3; r++) {
            if (strcmp(jstr(img, "role"), roles[r][0]) == 0) {
                char *url = image_url(jstr(img, "event_id"),
                                      json_integer_value(json_object_get(img, "idx")));
                json_object_set_new(thumbs, roles[r][1], json_string(url));
                free(url);
            }
        }
    }
    json_decref(imgs);
    json_object_set_new(cs, "thumbs", thumbs);
}

#define CASE_COLUMNS                                                                           \
    "episode_id, state, state_changed_at, detector_id, camera_id, zone_id, kind,"              \
    " category_code, category_name, grid, address, episode_state, end_reason, started_at,"    \
    " ended_at, dwell_s, first_received_at, last_received_at, verify_result, verify_reason,"  \
    " verify_event_id, verified_at,"                                                           \
    " (SELECT count(*) FROM commands m WHERE m.episode_id = cases.episode_id"                 \
    "  AND m.status IN ('pending', 'sent')) AS commands_waiting"

/* The filter as a WHERE clause over numbered parameters ?1..?5 (bound by bind_filter). */
#define FILTER_WHERE                                                                           \
    " WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR category_code = ?2)"                 \
    " AND (?3 IS NULL OR camera_id = ?3) AND (?4 IS NULL OR grid = ?4)"                        \
    " AND (?5 IS NULL OR substr(started_at, 1, 10) = ?5)"

static sqlite3_stmt *filtered(struct so_cases *c, const char *sql,
                              const struct so_case_filter *f)
{
    sqlite3_stmt *s = prepare(c->db, sql);
    if (s && f) {
        const char *v[] = {f->state, f->category, f->camera, f->grid, f->day};
        for (int i = 0; i < 5; i++) {
            bind_text(s, i + 1, v[i] && *v[i] ? v[i] : NULL);
        }
    }
    return s;
}

json_t *so_cases_list(struct so_cases *c, const struct so_case_filter *f)
{
    sqlite3_stmt *s = filtered(c, "SELECT " CASE_COLUMNS " FROM cases" FILTER_WHERE
                               " ORDER BY first_received_at DESC, started_at DESC LIMIT ?6", f);
    if (!s) {
        return NULL;
    }
    sqlite3_bind_int(s, 6, f && f->limit > 0 ? f->limit : 200);
    json_t *list = rows(c, s);
    if (!list) {
        return NULL;
    }
    size_t i;
    json_t *cs;
    json_array_foreach(list, i, cs) {
        add_thumbs(c, cs);
        add_actions(cs);
    }
    return json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(list), "cases", list);
}

/* Each event of the case with its images (URL and role) and, for a verification, its answer. */
static json_t *case_events(struct so_cases *c, const char *episode_id)
{
    json_t *events = query(c,
        "SELECT event_id, seq, state, json_extract(json, '$.reason') AS reason, received_at,"
        " json_extract(json, '$.dwell_s') AS dwell_s,"
        " json_extract(json, '$.verification.result') AS verification_result,"
        " json_extract(json, '$.verification.reason') AS verification_reason,"
        " json_extract(json, '$.verification.command_id') AS command_id"
        " FROM events WHERE episode_id = ? ORDER BY id", episode_id);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *imgs = query(c, "SELECT idx, role, length(jpeg) AS size FROM evidence"
                                " WHERE event_id = ? ORDER BY idx", jstr(ev, "event_id"));
        size_t k;
        json_t *img;
        json_array_foreach(imgs, k, img) {
            char *url = image_url(jstr(ev, "event_id"),
                                  json_integer_value(json_object_get(img, "idx")));
            json_object_set_new(img, "url", json_string(url));
            free(url);
        }
        json_object_set_new(ev, "images", imgs ? imgs : json_array());
    }
    return events;
}

json_t *so_cases_get(struct so_cases *c, const char *episode_id, bool *missing)
{
    *missing = false;
    json_t *found = query(c, "SELECT " CASE_COLUMNS " FROM cases WHERE episode_id = ?",
                          episode_id);
    if (!found) {
        return NULL;
    }
    json_t *cs = json_incref(json_array_get(found, 0));
    json_decref(found);
    if (!cs) {
        *missing = true;
        return NULL;
    }
    add_thumbs(c, cs);
    add_actions(cs);
    json_t *parts[3] = {
        case_events(c, episode_id),
        query(c, "SELECT at, actor, action, from_state, to_state, note, command_id"
                 " FROM case_history WHERE episode_id = ? ORDER BY id", episode_id),
        query(c, "SELECT id, command, status, error, duplicate, attempts, created_at, sent_at,"
                 " answered_at FROM commands WHERE episode_id = ? ORDER BY created_at",
              episode_id),
    };
    static const char *const names[3] = {"events", "history", "commands"};
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) {
            json_decref(cs);
            cs = NULL;
        } else if (cs) {
            json_object_set(cs, names[i], parts[i]);
        }
        json_decref(parts[i]);
    }
    return cs;
}

json_t *so_cases_command(struct so_cases *c, const char *id, bool *missing)
{
    json_t *found = query(c, "SELECT id, detector_id, episode_id, command, json, status, error,"
                             " duplicate, attempts, created_at, sent_at, answered_at"
                             " FROM commands WHERE id = ?", id);
    json_t *cmd = found ? json_incref(json_array_get(found, 0)) : NULL;
    *missing = found && !cmd;
    json_decref(found);
    return cmd;
}

json_t *so_cases_stats(struct so_cases *c, const struct so_case_filter *f)
{
    static const char *const sql[4] = {
        "SELECT state, count(*) AS cases FROM cases" FILTER_WHERE " GROUP BY state",
        "SELECT camera_id, zone_id, count(*) AS cases,"
        " sum(state = 'rejected') AS rejected FROM cases" FILTER_WHERE
        " GROUP BY camera_id, zone_id ORDER BY cases DESC",
        "SELECT category_code, category_name, count(*) AS cases,"
        " sum(state = 'rejected') AS rejected FROM cases" FILTER_WHERE
        " GROUP BY category_code ORDER BY cases DESC",
        "SELECT CAST(substr(started_at, 12, 2) AS INTEGER) AS hour, count(*) AS cases"
        " FROM cases" FILTER_WHERE " AND started_at IS NOT NULL GROUP BY hour",
    };
    json_t *part[4];
    for (int i = 0; i < 4; i++) {
        sqlite3_stmt *s = filtered(c, sql[i], f);
        part[i] = s ? rows(c, s) : NULL;
    }
    json_t *out = NULL;
    if (part[0] && part[1] && part[2] && part[3]) {
        json_t *by_state = json_object(), *by_hour = json_array();
        json_int_t total = 0, hours[24] = {0};
        size_t i;
        json_t *r;
        json_array_foreach(part[0], i, r) {
            json_int_t n = json_integer_value(json_object_get(r, "cases"));
            json_object_set_new(by_state, jstr(r, "state"), json_integer(n));
            total += n;
        }
        json_array_foreach(part[3], i, r) {
            json_int_t h = json_integer_value(json_object_get(r, "hour"));
            if (h >= 0 && h < 24) {
                hours[h] = json_integer_value(json_object_get(r, "cases"));
            }
        }
        for (int h = 0; h < 24; h++) {
            json_array_append_new(by_hour, json_integer(hours[h]));
        }
        out = json_pack("{s:I, s:o, s:O, s:O, s:o}", "total", total, "by_state", by_state,
                        "by_zone", part[1], "by_category", part[2], "by_hour", by_hour);
    }
    for (int i = 0; i < 4; i++) {
        json_decref(part[i]);
    }
    return out;
}

int so_cases_image(struct so_cases *c, const char *event_id, int idx, void **jpeg, size_t *size)
{
    sqlite3_stmt *s = prepare(c->db, "SELECT jpeg FROM evidence WHERE event_id = ? AND idx = ?");
    if (!s) {
        return -EIO;
    }
    bind_text(s, 1, event_id);
    sqlite3_bind_int(s, 2, idx);
    int rc = sqlite3_step(s);
    int result = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
    if (result == 0) {
        *size = (size_t)sqlite3_column_bytes(s, 0);
        *jpeg = malloc(*size ? *size : 1);
        if (!*jpeg) {
            abort();
        }
        memcpy(*jpeg, sqlite3_column_blob(s, 0), *size);
    }
    sqlite3_finalize(s);
    return result;
}
