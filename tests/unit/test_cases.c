/*
 * The case desk's records (detector/intake/cases.c): every (state, action) pair of the state
 * table, names both ways, and the same transitions through the database: records building one
 * case per episode, auto-close on cleared/left (and not without it), actions writing history and
 * commands, commands kept pending while no detector is connected and resent, answers recorded.
 * A real SQLite database in a temp file, with the intake's events table.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cases.h"
#include "testlib.h"

static void test_table(void)
{
    enum { N = -1 };   /* not allowed */
    static const struct {
        enum so_case_state from;
        int to[SO_CASE_N_ACTIONS];      /* per action: confirm reject verify close auto_close */
    } rows[] = {
        {SO_CASE_NEW, {SO_CASE_CONFIRMED, SO_CASE_REJECTED, SO_CASE_NEW, SO_CASE_CLOSED,
                       SO_CASE_CLOSED}},
        {SO_CASE_CONFIRMED, {N, SO_CASE_REJECTED, SO_CASE_CONFIRMED, SO_CASE_CLOSED,
                             SO_CASE_CLOSED}},
        {SO_CASE_REJECTED, {N, N, N, N, N}},
        {SO_CASE_CLOSED, {N, N, N, N, N}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int a = 0; a < SO_CASE_N_ACTIONS; a++) {
            enum so_case_state to = SO_CASE_N_STATES;
            const char *why = "unset";
            int rc = so_case_next(rows[i].from, (enum so_case_action)a, &to, &why);
            if (rows[i].to[a] == N) {
                CHECK_INT(rc, -EPERM);
                CHECK(why && *why);
            } else {
                CHECK_INT(rc, 0);
                CHECK_INT(to, rows[i].to[a]);
                CHECK(why == NULL);
            }
        }
    }
    enum so_case_state to;
    const char *why;
    CHECK_INT(so_case_next(SO_CASE_N_STATES, SO_CASE_CONFIRM, &to, &why), -EPERM);
    CHECK_INT(so_case_next(SO_CASE_NEW, SO_CASE_N_ACTIONS, &to, &why), -EPERM);
    CHECK_CONTAINS(so_case_next(SO_CASE_CONFIRMED, SO_CASE_CONFIRM, &to, &why) < 0 ? why : "",
                   "already confirmed");
}

static void test_names(void)
{
    static const char *const states[] = {"new", "confirmed", "rejected", "closed"};
    static const char *const actions[] = {"confirm", "reject", "verify", "close", "auto_close"};
    for (int i = 0; i < SO_CASE_N_STATES; i++) {
        enum so_case_state s = SO_CASE_N_STATES;
        CHECK_STR(so_case_state_name((enum so_case_state)i), states[i]);
        CHECK(so_case_state_parse(states[i], &s) && s == (enum so_case_state)i);
    }
    for (int i = 0; i < SO_CASE_N_ACTIONS; i++) {
        enum so_case_action a = SO_CASE_N_ACTIONS;
        CHECK_STR(so_case_action_name((enum so_case_action)i), actions[i]);
        CHECK(so_case_action_parse(actions[i], &a) && a == (enum so_case_action)i);
    }
    enum so_case_state s = SO_CASE_CLOSED;
    CHECK(!so_case_state_parse("open", &s) && s == SO_CASE_CLOSED);
    CHECK(!so_case_state_parse(NULL, &s));
    CHECK_STR(so_case_state_name(SO_CASE_N_STATES), "?");
}

/* The intake's tables as intake.c creates them (before the desk's migration). */
static sqlite3 *fresh_db(char *path)
{
    so_test_write_temp("", path);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db,
        "CREATE TABLE events (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE,"
        " seq INTEGER NOT NULL, detector_id TEXT NOT NULL, camera_id TEXT NOT NULL,"
        " zone_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, category_code TEXT,"
        " grid TEXT, media_start_s REAL, media_end_s REAL, received_at TEXT NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'new', json TEXT NOT NULL);"
        "CREATE TABLE evidence (event_id TEXT NOT NULL, idx INTEGER NOT NULL, role TEXT NOT NULL,"
        " sha256 TEXT NOT NULL, jpeg BLOB NOT NULL, PRIMARY KEY (event_id, idx));",
        NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void feed(struct so_cases *c, const char *episode, const char *state, const char *reason)
{
    static int n;
    char event_id[40];
    snprintf(event_id, sizeof(event_id), "e%d", ++n);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:f, s:s?}",
                            "episode_id", episode, "state", state, "detector_id", "det-1",
                            "camera_id", "cam", "zone_id", "z", "kind", "illegal_parking",
                            "category", "code", "0505", "grid", "440305001001001",
                            "started_at", "2026-12-06T10:15:00.000+08:00", "dwell_s", 30.0,
                            "reason", reason);
    CHECK_INT(so_cases_on_event(c, rec, event_id, "2026-12-06T10:16:00.000+08:00"), 0);
    json_decref(rec);
}

static const char *state_of(struct so_cases *c, const char *episode, json_t **keep)
{
    bool missing = false;
    json_decref(*keep);
    *keep = so_cases_get(c, episode, &missing);
    return missing ? "missing" : json_string_value(json_object_get(*keep, "state"));
}

/* A sender that is connected or not, and counts. */
struct sender {
    bool connected;
    int sent;
    char last_id[65];
};

static int send_to(void *ctx, const char *detector, const char *id, const char *json)
{
    struct sender *s = ctx;
    CHECK_STR(detector, "det-1");
    CHECK_CONTAINS(json, id);
    if (!s->connected) {
        return -ENOTCONN;
    }
    s->sent++;
    snprintf(s->last_id, sizeof(s->last_id), "%s", id);
    return 0;
}

static void test_db(bool auto_close)
{
    char path[PATH_MAX];
    sqlite3 *db = fresh_db(path);
    struct so_cases *c = so_cases_open(db, auto_close);
    CHECK(c != NULL);
    json_t *doc = NULL;
    /* The steps: records and actions, and the state after each. */
    static const struct {
        const char *episode, *record, *reason;   /* a record from the detector, or */
        int action;                              /* an operator's action (-1: none) */
        int rc;
        const char *state, *state_without_auto;
    } steps[] = {
        {"a", "opened", NULL, -1, 0, "new", "new"},
        {"a", "update", NULL, -1, 0, "new", "new"},
        {"a", NULL, NULL, SO_CASE_CONFIRM, 0, "confirmed", "confirmed"},
        {"a", NULL, NULL, SO_CASE_CONFIRM, -EPERM, "confirmed", "confirmed"},
        {"a", "cleared", "left", -1, 0, "closed", "confirmed"},
        {"b", "opened", NULL, -1, 0, "new", "new"},
        {"b", NULL, NULL, SO_CASE_REJECT, 0, "rejected", "rejected"},
        {"b", "cleared", "dismissed", -1, 0, "rejected", "rejected"},
        {"b", NULL, NULL, SO_CASE_CLOSE, -EPERM, "rejected", "rejected"},
        {"c", "update", NULL, -1, 0, "new", "new"},          /* first record not `opened` */
        {"c", "cleared", "view_changed", -1, 0, "new", "new"},   /* not seen empty: stays */
        {"d", NULL, NULL, SO_CASE_CLOSE, -ENOENT, "missing", "missing"},
        {"d", "warning", NULL, -1, 0, "missing", "missing"},     /* a warning is no case */
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i].record) {
            feed(c, steps[i].episode, steps[i].record, steps[i].reason);
        } else {
            struct so_case_result res;
            CHECK_INT(so_cases_act(c, steps[i].episode, (enum so_case_action)steps[i].action,
                                   "op", NULL, &res), steps[i].rc);
            CHECK(steps[i].rc == 0 || res.err[0]);
        }
        CHECK_STR(state_of(c, steps[i].episode, &doc),
                  auto_close ? steps[i].state : steps[i].state_without_auto);
    }
    /* a's history: opened, confirm, cleared, and auto_close only with auto-close. */
    state_of(c, "a", &doc);
    json_t *hist = json_object_get(doc, "history");
    CHECK_INT(json_array_size(hist), auto_close ? 4 : 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(hist, 1), "actor")), "op");

    /* b's dismiss, queued by the reject above, answered (so only e's command is due below). */
    state_of(c, "b", &doc);
    json_t *bcmd = json_array_get(json_object_get(doc, "commands"), 0);
    CHECK_STR(json_string_value(json_object_get(bcmd, "command")), "dismiss");
    CHECK_INT(so_cases_command_answer(c, json_string_value(json_object_get(bcmd, "id")), true,
                                      false, NULL), 0);

    /* verify: a command, pending while the detector is away, sent once it is back, resent
     * when unanswered, recorded when answered. */
    feed(c, "e", "opened", NULL);
    struct so_case_result res;
    json_t *args = json_pack("{s:s}", "note", "look again");
    CHECK_INT(so_cases_act(c, "e", SO_CASE_VERIFY, "op", args, &res), 0);
    json_decref(args);
    CHECK_INT(strlen(res.command_id), 32);
    struct sender s = {.connected = false};
    CHECK_INT(so_cases_commands_due(c, 15.0, 3, send_to, &s), 0);
    bool missing;
    json_t *cmd = so_cases_command(c, res.command_id, &missing);
    CHECK_STR(json_string_value(json_object_get(cmd, "status")), "pending");
    json_decref(cmd);
    s.connected = true;
    CHECK_INT(so_cases_commands_due(c, 15.0, 3, send_to, &s), 1);
    CHECK_STR(s.last_id, res.command_id);
    CHECK_INT(so_cases_commands_due(c, 15.0, 3, send_to, &s), 0);    /* not due again yet */
    CHECK_INT(so_cases_commands_due(c, -1.0, 3, send_to, &s), 1);    /* unanswered: again */
    CHECK_INT(so_cases_command_answer(c, res.command_id, true, false, NULL), 0);
    CHECK_INT(so_cases_commands_due(c, -1.0, 3, send_to, &s), 0);
    CHECK_INT(so_cases_command_answer(c, "nosuch", true, false, NULL), -ENOENT);
    cmd = so_cases_command(c, res.command_id, &missing);
    CHECK_STR(json_string_value(json_object_get(cmd, "status")), "ok");
    CHECK_INT(json_integer_value(json_object_get(cmd, "attempts")), 2);
    json_decref(cmd);
    /* A verification record lands on the case. */
    json_t *rec = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "episode_id", "e", "state",
                            "verification", "verification", "command_id", res.command_id,
                            "result", "gone", "reason", "the place is empty");
    CHECK_INT(so_cases_on_event(c, rec, "v1", "2026-12-06T10:20:00.000+08:00"), 0);
    json_decref(rec);
    state_of(c, "e", &doc);
    CHECK_STR(json_string_value(json_object_get(doc, "verify_result")), "gone");
    CHECK_STR(json_string_value(json_object_get(doc, "state")), "new");

    /* reject: bad reason refused (nothing written), a good one queues a dismiss; a dismiss
     * never answered is failed after max_sends. */
    feed(c, "f", "opened", NULL);
    args = json_pack("{s:s}", "reason", "bored");
    CHECK_INT(so_cases_act(c, "f", SO_CASE_REJECT, "op", args, &res), -EINVAL);
    CHECK_CONTAINS(res.err, "reason");
    json_decref(args);
    CHECK_STR(state_of(c, "f", &doc), "new");
    args = json_pack("{s:s, s:s}", "reason", "fixture", "until", "2026-12-07T10:00:00+08:00");
    CHECK_INT(so_cases_act(c, "f", SO_CASE_REJECT, "op", args, &res), 0);
    json_decref(args);
    cmd = so_cases_command(c, res.command_id, &missing);
    CHECK_CONTAINS(json_string_value(json_object_get(cmd, "json")), "\"until\":\"2026-12-07T");
    CHECK_CONTAINS(json_string_value(json_object_get(cmd, "json")), "\"command\":\"dismiss\"");
    json_decref(cmd);
    for (int i = 0; i < 4; i++) {
        so_cases_commands_due(c, -1.0, 3, send_to, &s);
    }
    cmd = so_cases_command(c, res.command_id, &missing);
    CHECK_STR(json_string_value(json_object_get(cmd, "status")), "failed");
    CHECK_CONTAINS(json_string_value(json_object_get(cmd, "error")), "no answer");
    json_decref(cmd);

    /* Statistics and the list with filters. */
    json_t *st = so_cases_stats(c, NULL);
    CHECK_INT(json_integer_value(json_object_get(st, "total")), 5);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(st, "by_hour"), 10)), 5);
    json_decref(st);
    struct so_case_filter f = {.state = "rejected"};
    json_t *list = so_cases_list(c, &f);
    CHECK_INT(json_integer_value(json_object_get(list, "count")), 2);
    json_decref(list);

    json_decref(doc);
    so_cases_destroy(c);
    /* Reopened, nothing is rebuilt twice (user_version). */
    c = so_cases_open(db, auto_close);
    st = so_cases_stats(c, NULL);
    CHECK_INT(json_integer_value(json_object_get(st, "total")), 5);
    json_decref(st);
    so_cases_destroy(c);
    sqlite3_close(db);
    unlink(path);
}

int main(void)
{
    test_table();
    test_names();
    test_db(true);
    test_db(false);
    return so_test_done();
}
