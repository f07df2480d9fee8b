/*
 * streetorder-intake: the reference receiving end of the delivery channel, what the tests talk
 * to and a working example for case-platform integrators (ARCHITECTURE "Delivery").
 *
 *   streetorder-intake --bind ENDPOINT --db FILE [--curve-secret KEY [--allow-keys FILE]]
 *                      [--http HOST:PORT [--users FILE] [--no-auto-close]] [--quiet]
 *   streetorder-intake --db FILE --verify
 *
 * Why it is built this way: an ACK tells the detector it may forget the event, so the ACK goes
 * out only after the event and its images are durably in SQLite (one transaction per event,
 * WAL with synchronous=FULL: the commit is fsynced). The detector resends anything it has not
 * seen acknowledged, so the same event can arrive twice; `event_id` is UNIQUE and a duplicate
 * is acknowledged again without being stored twice. Anything that is not a valid event is
 * logged and ignored, never acknowledged, never fatal. One thread owns the ROUTER socket and
 * the database; a slow disk slows acknowledgements, which the detector's outbox absorbs.
 * With --curve-secret the socket is a CURVE server: a client that does not know the matching
 * public key cannot complete the handshake and gets nothing. Without --allow-keys any client
 * that knows that public key may deliver; with it, the intake also answers ZAP requests (RFC 27)
 * on inproc://zeromq.zap.01, in the same thread and poll loop as the ROUTER, and only detectors
 * whose public keys are listed complete the handshake (zap.c decides).
 *
 * The case desk (--http, desk.c, cases.c): every stored event also updates its episode's case
 * in the same transaction, and the desk's HTTP server runs in this same thread (libmicrohttpd
 * polled beside the ROUTER), so its actions write the database and send their commands
 * ([routing id, "CMD", id, json], docs/desk.md) on the ROUTER without a hand-off. The ROUTER
 * learns which routing id is which detector from the [ "HELO", detector_id ] a detector says on
 * every (re)connection, and from the `detector_id` of the events it receives; a detector with
 * nothing to deliver can be commanded all the same. ZMQ_ROUTER_MANDATORY makes a send to a
 * detector that has gone fail (EHOSTUNREACH) instead of vanishing, so the command stays pending
 * and goes out when that detector connects or delivers again.
 * The detector answers at once with [ "CRES", id, json ], recorded on the command's row.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "cases.h"
#include "config.h"
#include "desk.h"
#include "log.h"
#include "message.h"
#include "timeutil.h"
#include "zap.h"

#define WHO "intake"
#define MAX_FRAMES 32
#define MAX_PEERS 256
#define COMMAND_RETRY_S 15.0    /* a sent command unanswered this long is sent again */
#define COMMAND_MAX_SENDS 8     /* ... and failed after this many sends */

static atomic_bool stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_flag, true);
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS events ("
    "  id INTEGER PRIMARY KEY,"
    "  event_id TEXT NOT NULL UNIQUE,"
    "  seq INTEGER NOT NULL,"
    "  detector_id TEXT NOT NULL,"
    "  camera_id TEXT NOT NULL,"
    "  zone_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  category_code TEXT,"
    "  grid TEXT,"
    "  media_start_s REAL,"
    "  media_end_s REAL,"
    "  received_at TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'new',"
    "  json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_status ON events(status);"
    "CREATE INDEX IF NOT EXISTS events_detector_seq ON events(detector_id, seq);"
    "CREATE TABLE IF NOT EXISTS evidence ("
    "  event_id TEXT NOT NULL REFERENCES events(event_id),"
    "  idx INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  jpeg BLOB NOT NULL,"
    "  PRIMARY KEY (event_id, idx));";

/* A detector as the ROUTER knows it: the routing id of the connection its events came on. */
struct peer {
    char detector_id[65];
    uint8_t rid[256];
    size_t rid_len;
    bool connected;             /* false once a send to it failed with EHOSTUNREACH */
    char last_seen[40];
};

struct intake {
    sqlite3 *db;
    sqlite3_stmt *ins_event, *ins_evidence;
    void *zctx, *router;
    void *zap;                          /* ZAP handler (REP), NULL without --allow-keys */
    struct so_zap_allow *allow;
    bool quiet;
    unsigned long stored, duplicates, ignored, refused;
    double refused_logged_at;           /* monotonic, to log refusals at most once a second */
    struct so_cases *cases;
    struct peer peers[MAX_PEERS];
    size_t n_peers;
    unsigned long answers, bad_answers;
    double bad_answer_logged_at;        /* monotonic, as refused_logged_at */
};

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        so_err(WHO, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     &err) != SQLITE_OK ||
        sqlite3_exec(db, schema_sql, NULL, NULL, &err) != SQLITE_OK) {
        so_err(WHO, "%s: %s", path, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Store one event and its images in one transaction. 1 = stored, 0 = duplicate, <0 = error. */
static int store(struct intake *in, const struct so_intake_event *ev, const char *json,
                 size_t json_len)
{
    char when[40];
    so_time_iso8601(so_time_wall(), when, sizeof(when));
    if (sqlite3_exec(in->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return -EIO;
    }
    sqlite3_stmt *s = in->ins_event;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, ev->event_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)ev->seq);
    sqlite3_bind_text(s, 3, ev->detector_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ev->camera_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, ev->zone_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, ev->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, ev->state, -1, SQLITE_STATIC);
    if (ev->category_code) {
        sqlite3_bind_text(s, 8, ev->category_code, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, 8);
    }
    if (ev->grid) {
        sqlite3_bind_text(s, 9, ev->grid, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, 9);
    }
    sqlite3_bind_double(s, 10, ev->media_start_s);
    if (isnan(ev->media_end_s)) {
        sqlite3_bind_null(s, 11);
    } else {
        sqlite3_bind_double(s, 11, ev->media_end_s);
    }
    sqlite3_bind_text(s, 12, when, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, json, (int)json_len, SQLITE_STATIC);
    const char *episode = json_string_value(json_object_get(ev->record, "episode_id"));
    if (episode) {
        sqlite3_bind_text(s, 14, episode, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(s, 14);
    }
    int rc = sqlite3_step(s);
    int result = 0;
    if (rc != SQLITE_DONE) {
        result = -EIO;
    } else if (sqlite3_changes(in->db) == 1) {
        result = 1;
        for (int i = 0; i < ev->n_evidence && result == 1; i++) {
            sqlite3_stmt *e = in->ins_evidence;
            sqlite3_reset(e);
            sqlite3_bind_text(e, 1, ev->event_id, -1, SQLITE_STATIC);
            sqlite3_bind_int(e, 2, i);
            sqlite3_bind_text(e, 3, ev->evidence[i].role, -1, SQLITE_STATIC);
            sqlite3_bind_text(e, 4, ev->evidence[i].sha256, -1, SQLITE_STATIC);
            sqlite3_bind_blob(e, 5, ev->evidence[i].jpeg, (int)ev->evidence[i].size,
                              SQLITE_STATIC);
            if (sqlite3_step(e) != SQLITE_DONE) {
                result = -EIO;
            }
        }
        if (result == 1 && so_cases_on_event(in->cases, ev->record, ev->event_id, when) < 0) {
            result = -EIO;
        }
    }
    if (result < 0) {
        so_err(WHO, "cannot store event %s: %s", ev->event_id, sqlite3_errmsg(in->db));
        sqlite3_exec(in->db, "ROLLBACK", NULL, NULL, NULL);
        return result;
    }
    if (sqlite3_exec(in->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        so_err(WHO, "cannot commit event %s: %s", ev->event_id, sqlite3_errmsg(in->db));
        sqlite3_exec(in->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return result;
}

static struct peer *find_peer(struct intake *in, const char *detector_id)
{
    for (size_t i = 0; i < in->n_peers; i++) {
        if (strcmp(in->peers[i].detector_id, detector_id) == 0) {
            return &in->peers[i];
        }
    }
    return NULL;
}

/* The detector `detector_id` delivers on the connection `rid`: remember it. True when that is
 * news (a new detector, a new connection, or one that was gone), when commands may be due. */
static bool learn_peer(struct intake *in, const char *detector_id, const uint8_t *rid,
                       size_t rid_len)
{
    struct peer *p = find_peer(in, detector_id);
    if (!p && in->n_peers < MAX_PEERS && strlen(detector_id) < sizeof(p->detector_id) &&
        rid_len <= sizeof(p->rid)) {
        p = &in->peers[in->n_peers++];
        snprintf(p->detector_id, sizeof(p->detector_id), "%s", detector_id);
    }
    if (!p || rid_len > sizeof(p->rid)) {
        return false;
    }
    so_time_iso8601(so_time_wall(), p->last_seen, sizeof(p->last_seen));
    bool news = !p->connected || p->rid_len != rid_len || memcmp(p->rid, rid, rid_len) != 0;
    memcpy(p->rid, rid, rid_len);
    p->rid_len = rid_len;
    p->connected = true;
    return news;
}

/* so_cases_send_fn: [rid, "CMD", id, json] on the detector's connection. */
static int send_command(void *ctx, const char *detector_id, const char *id, const char *json)
{
    struct intake *in = ctx;
    struct peer *p = find_peer(in, detector_id);
    if (!p || !p->connected) {
        return -ENOTCONN;
    }
    if (zmq_send(in->router, p->rid, p->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        if (err == EHOSTUNREACH) {
            p->connected = false;
            so_warn(WHO, "detector %s has disconnected: commands to it wait until it delivers "
                    "again", detector_id);
            return -ENOTCONN;
        }
        return -err;
    }
    zmq_send(in->router, "CMD", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(in->router, id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(in->router, json, strlen(json), ZMQ_DONTWAIT);
    if (!in->quiet) {
        printf("command   %s %s %s\n", detector_id, id, json);
        fflush(stdout);
    }
    return 0;
}

static void flush_commands(void *ctx)
{
    struct intake *in = ctx;
    if (in->cases) {
        so_cases_commands_due(in->cases, COMMAND_RETRY_S, COMMAND_MAX_SENDS, send_command, in);
    }
}

static json_t *peers_json(void *ctx)
{
    struct intake *in = ctx;
    json_t *list = json_array();
    for (size_t i = 0; i < in->n_peers; i++) {
        json_array_append_new(list, json_pack("{s:s, s:b, s:s}", "detector_id",
                                              in->peers[i].detector_id, "connected",
                                              in->peers[i].connected, "last_seen",
                                              in->peers[i].last_seen));
    }
    return json_pack("{s:o}", "detectors", list);
}

/* Whether command `id` went to the detector on connection `rid`: 0, -ENOENT (an id never
 * sent), -EPERM (another connection answers: only the commanded detector may). */
static int answer_from_its_detector(struct intake *in, const char *id,
                                    const struct so_intake_frame *rid)
{
    bool missing = false;
    json_t *cmd = so_cases_command(in->cases, id, &missing);
    const char *det = json_string_value(json_object_get(cmd, "detector_id"));
    struct peer *p = det ? find_peer(in, det) : NULL;
    int rc = !cmd ? (missing ? -ENOENT : -EIO)
             : p && p->rid_len == rid->size && memcmp(p->rid, rid->data, rid->size) == 0
                 ? 0
                 : -EPERM;
    json_decref(cmd);
    return rc;
}

/* [rid, "HELO", detector_id]: a detector says which it is on a new connection, before it has
 * delivered anything; commands waiting for it go out now. Nothing is answered. */
static void handle_hello(struct intake *in, const struct so_intake_frame *frames)
{
    char id[65];
    if (!in->cases || frames[2].size == 0 || frames[2].size >= sizeof(id)) {
        return;
    }
    memcpy(id, frames[2].data, frames[2].size);
    id[frames[2].size] = 0;
    if (learn_peer(in, id, frames[0].data, frames[0].size)) {
        so_info(WHO, "detector %s connected", id);
        flush_commands(in);
    }
}

/* [rid, "CRES", id, json]: a detector's answer to a command (caseloop wire format). */
static void handle_answer(struct intake *in, const struct so_intake_frame *f, size_t n)
{
    json_t *res = n == 4 ? json_loadb((const char *)f[3].data, f[3].size, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(res, "id"));
    const char *schema = json_string_value(json_object_get(res, "schema"));
    json_t *ok = json_object_get(res, "ok");
    int rc = -EBADMSG;
    if (id && schema && strcmp(schema, "streetorder.command_result.v1") == 0 &&
        json_is_boolean(ok) && strlen(id) == f[2].size && memcmp(id, f[2].data, f[2].size) == 0) {
        rc = answer_from_its_detector(in, id, &f[0]);
    }
    if (rc == 0) {
        rc = so_cases_command_answer(in->cases, id, json_is_true(ok),
                                     json_is_true(json_object_get(res, "duplicate")),
                                     json_string_value(json_object_get(res, "error")));
    }
    if (rc == 0) {
        in->answers++;
        if (!in->quiet) {
            printf("answer    %s %s\n", id, json_is_true(ok) ? "ok" : "failed");
            fflush(stdout);
        }
    } else {
        /* Anything that completed the handshake can send these: at most a line a second. */
        in->bad_answers++;
        double now = so_time_mono();
        if (now - in->bad_answer_logged_at >= 1.0) {
            so_warn(WHO, "ignored a command answer: %s (%lu ignored so far)",
                    rc == -ENOENT   ? "unknown command id"
                    : rc == -EBADMSG ? "malformed"
                    : rc == -EPERM   ? "not from the connection of the detector it was sent to"
                                     : "database error",
                    in->bad_answers);
            in->bad_answer_logged_at = now;
        }
    }
    json_decref(res);
}

/* Is frame f exactly `text`? */
static bool frame_is(const struct so_intake_frame *f, const char *text)
{
    size_t len = strlen(text);
    return f->size == len && memcmp(f->data, text, len) == 0;
}

/* [rid, "SOE1", seq, json, parts...]: store the event (durably), acknowledge it, learn which
 * detector the connection is; `total` frames arrived, the first n are in `frames`. */
static void handle_event(struct intake *in, const struct so_intake_frame *frames, size_t n,
                         size_t total)
{
    char why[200] = "";
    struct so_intake_event ev;
    int rc = total > n ? -EBADMSG : so_intake_parse(frames + 1, n - 1, &ev, why, sizeof(why));
    if (total > n) {
        snprintf(why, sizeof(why), "%zu frames, too many", total);
    }
    if (rc < 0) {
        in->ignored++;
        so_warn(WHO, "ignored a message that is not a valid event: %s", why);
    } else {
        rc = store(in, &ev, (const char *)frames[3].data, frames[3].size);
        if (rc >= 0) {
            /* Durable: acknowledge. */
            char seqs[24];
            int len = snprintf(seqs, sizeof(seqs), "%" PRIu64, ev.seq);
            /* The ROUTER is mandatory: the identity frame fails (and nothing more may follow)
             * when the detector has gone since; it will resend. */
            if (zmq_send(in->router, frames[0].data, frames[0].size,
                         ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
                zmq_send(in->router, "ACK", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
                zmq_send(in->router, seqs, (size_t)len, ZMQ_DONTWAIT);
            }
            if (in->cases && learn_peer(in, ev.detector_id, frames[0].data, frames[0].size)) {
                flush_commands(in);
            }
            if (rc == 1) {
                in->stored++;
            } else {
                in->duplicates++;
            }
            if (!in->quiet) {
                printf("%s %s seq %" PRIu64 " %s %s %s/%s event %s (%d image%s)\n",
                       rc == 1 ? "stored   " : "duplicate", ev.detector_id, ev.seq, ev.kind,
                       ev.state, ev.camera_id, ev.zone_id, ev.event_id, ev.n_evidence,
                       ev.n_evidence == 1 ? "" : "s");
                fflush(stdout);
            }
        }
        so_intake_event_finish(&ev);
    }
}

static void handle_message(struct intake *in)
{
    zmq_msg_t msgs[MAX_FRAMES];
    size_t n = 0, total = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, in->router, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        total++;
        if (n < MAX_FRAMES) {
            msgs[n++] = m;
        } else {
            zmq_msg_close(&m);
        }
    }
    if (n == 0) {
        return;
    }
    struct so_intake_frame frames[MAX_FRAMES];
    for (size_t i = 0; i < n; i++) {
        frames[i] = (struct so_intake_frame){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
    }
    if (n == 3 && frame_is(&frames[1], "HELO")) {
        handle_hello(in, frames);
    } else if (n >= 2 && frame_is(&frames[1], "CRES") && in->cases) {
        handle_answer(in, frames, n);
    } else {
        handle_event(in, frames, n, total);
    }
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&msgs[i]);
    }
}

/* Answer one ZAP request: allow listed CURVE keys, refuse everything else. */
static void handle_zap(struct intake *in)
{
    zmq_msg_t msgs[8];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, in->zap, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8) {
            msgs[n++] = m;
        } else {
            zmq_msg_close(&m);
        }
    }
    struct so_intake_frame frames[8];
    for (size_t i = 0; i < n; i++) {
        frames[i] = (struct so_intake_frame){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
    }
    struct so_zap_decision d;
    if (so_zap_decide(in->allow, frames, n, &d)) {
        /* version, request id, status code, status text, user id, metadata */
        zmq_send(in->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(in->zap, frames[1].data, frames[1].size, ZMQ_SNDMORE);
        zmq_send(in->zap, d.status, strlen(d.status), ZMQ_SNDMORE);
        zmq_send(in->zap, d.text, strlen(d.text), ZMQ_SNDMORE);
        zmq_send(in->zap, d.client_key, strlen(d.client_key), ZMQ_SNDMORE);
        zmq_send(in->zap, "", 0, 0);
    } else {
        /* A REP socket must answer before it can receive again; libzmq sends well-formed
         * requests, so this only guards against a foreign peer on the inproc endpoint. */
        zmq_send(in->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(in->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(in->zap, d.status, strlen(d.status), ZMQ_SNDMORE);
        zmq_send(in->zap, d.text, strlen(d.text), ZMQ_SNDMORE);
        zmq_send(in->zap, "", 0, ZMQ_SNDMORE);
        zmq_send(in->zap, "", 0, 0);
    }
    if (strcmp(d.status, "200") != 0) {
        /* A refused detector retries every few seconds: log at most once a second. */
        in->refused++;
        double now = so_time_mono();
        if (now - in->refused_logged_at >= 1.0) {
            so_warn(WHO, "refused a client%s%s: %s (%lu refusal%s so far)",
                    d.client_key[0] ? " with public key " : "", d.client_key, d.text,
                    in->refused, in->refused == 1 ? "" : "s");
            in->refused_logged_at = now;
        }
    } else if (!in->quiet) {
        so_info(WHO, "accepted client key %s", d.client_key);
    }
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&msgs[i]);
    }
}

/* The one loop of the intake's thread: the ROUTER, the ZAP handler, the desk's HTTP server, and
 * once a second the commands that are due. 0 when stopped by a signal, -1 on a poll error. */
static int run(struct intake *in, struct so_desk *desk)
{
    zmq_pollitem_t items[3] = {{.socket = in->router, .events = ZMQ_POLLIN}};
    int n_items = 1, zap_at = -1;
    if (in->zap) {
        zap_at = n_items;
        items[n_items++] = (zmq_pollitem_t){.socket = in->zap, .events = ZMQ_POLLIN};
    }
    if (desk) {
        items[n_items++] = (zmq_pollitem_t){.fd = so_desk_fd(desk), .events = ZMQ_POLLIN};
    }
    double flushed_at = 0;
    while (!atomic_load(&stop_flag)) {
        int rc = zmq_poll(items, n_items, desk ? so_desk_timeout_ms(desk, 200) : 200);
        if (rc < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            so_err(WHO, "poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc > 0 && zap_at > 0 && (items[zap_at].revents & ZMQ_POLLIN)) {
            handle_zap(in);
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            handle_message(in);
        }
        if (desk) {
            so_desk_run(desk);
        }
        double now = so_time_mono();
        if (now - flushed_at >= 1.0) {
            flush_commands(in);
            flushed_at = now;
        }
    }
    return 0;
}

/* --verify: per detector, the seq range received and every gap in it. 0 = no gaps. */
static int verify(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "streetorder-intake: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return 2;
    }
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT detector_id, seq FROM events ORDER BY detector_id, seq",
                           -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "streetorder-intake: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 2;
    }
    char det[128] = "";
    long long first = 0, prev = 0, count = 0, gaps = 0, dups = 0, total_gaps = 0;
    bool any = false;
    int rc;
    for (;;) {
        rc = sqlite3_step(s);
        const char *d = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        long long seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
        if (!d || strcmp(d, det) != 0) {
            if (any) {
                printf("%s: %lld event%s, seq %lld..%lld, %s%s\n", det, count,
                       count == 1 ? "" : "s", first, prev,
                       gaps ? "GAPS (listed above)" : "no gaps",
                       dups ? ", repeated seq numbers present" : "");
                total_gaps += gaps;
            }
            if (!d) {
                break;
            }
            snprintf(det, sizeof(det), "%s", d);
            first = prev = seq;
            count = 1;
            gaps = dups = 0;
            any = true;
            continue;
        }
        count++;
        if (seq == prev) {
            dups++;
        } else if (seq > prev + 1) {
            if (seq == prev + 2) {
                printf("%s: gap: seq %lld missing\n", det, prev + 1);
            } else {
                printf("%s: gap: seq %lld-%lld missing\n", det, prev + 1, seq - 1);
            }
            gaps++;
        }
        prev = seq;
    }
    if (!any) {
        printf("no events\n");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return total_gaps ? 1 : 0;
}

/* --users: the desk's users file (auth.h), its every mistake logged as FILE:LINE:COLUMN. */
static struct so_auth *load_users(const char *path)
{
    struct so_config_errors errors = {0};
    struct so_auth *auth = so_auth_load(path, &errors);
    for (size_t i = 0; i < errors.n; i++) {
        so_err(WHO, "%s:%d:%d: %s", errors.items[i].file, errors.items[i].line,
               errors.items[i].column, errors.items[i].message);
    }
    so_config_errors_finish(&errors);
    return auth;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: streetorder-intake --bind ENDPOINT --db FILE [--curve-secret KEY\n"
            "                          [--allow-keys FILE]] [--http HOST:PORT [--users FILE]\n"
            "                          [--no-auto-close]] [--quiet]\n"
            "       streetorder-intake --db FILE --verify\n"
            "\n"
            "Receives streetorder events on a ZeroMQ ROUTER socket, stores each with its images\n"
            "in SQLite (table events, status 'new'), then acknowledges it.\n"
            "  --curve-secret KEY  be a CURVE server with this Z85 secret key (the public key\n"
            "                      to configure as outputs.deliver.server_key is printed).\n"
            "                      Without --allow-keys, any client that knows that public\n"
            "                      key may deliver\n"
            "  --allow-keys FILE   with --curve-secret: only detectors whose CURVE public key\n"
            "                      is in FILE (one Z85 key per line, '#' comments) may connect;\n"
            "                      the others complete no handshake and deliver nothing\n"
            "  --http HOST:PORT    serve the case desk (queue, cases, actions, statistics, JSON\n"
            "                      API: docs/desk.md) there; HOST 127.0.0.1 unless you mean it\n"
            "  --users FILE        the desk asks for HTTP Basic credentials of these users\n"
            "                      (\"NAME viewer|operator HASH\" lines, docs/http.md)\n"
            "  --no-auto-close     keep a case open when the detector reports the place empty\n"
            "  --verify            print, per detector, the seq range received and its gaps;\n"
            "                      exit 1 when there is a gap\n");
}

/*
 * Long on purpose: the option parsing of the reference intake (a getopt loop, one case per
 * option) followed by the setup of the database, the ROUTER (CURVE, ZAP) and the desk, in the
 * order they depend on each other; kept in main as an integrator reads it.
 */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'},
        {"db", required_argument, NULL, 'd'},
        {"verify", no_argument, NULL, 'V'},
        {"curve-secret", required_argument, NULL, 'k'},
        {"allow-keys", required_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"http", required_argument, NULL, 'H'},
        {"users", required_argument, NULL, 'u'},
        {"no-auto-close", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *bind = NULL, *db_path = NULL, *secret = NULL, *allow_path = NULL;
    const char *http = NULL, *users = NULL;
    bool do_verify = false, quiet = false, auto_close = true;
    int c;
    while ((c = getopt_long(argc, argv, "b:d:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bind = optarg;
            break;
        case 'd':
            db_path = optarg;
            break;
        case 'V':
            do_verify = true;
            break;
        case 'k':
            secret = optarg;
            break;
        case 'a':
            allow_path = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'H':
            http = optarg;
            break;
        case 'u':
            users = optarg;
            break;
        case 'n':
            auto_close = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!db_path || (!bind && !do_verify) || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (do_verify) {
        return verify(db_path);
    }
    if (users && !http) {
        fprintf(stderr, "streetorder-intake: --users needs --http (it guards the desk)\n");
        return 2;
    }
    if (allow_path && !secret) {
        fprintf(stderr, "streetorder-intake: --allow-keys needs --curve-secret (keys are only "
                "checked during a CURVE handshake)\n");
        return 2;
    }

    struct intake in = {.quiet = quiet, .refused_logged_at = -1e9, .bad_answer_logged_at = -1e9};
    int status = 1;
    if (allow_path) {
        char err[512];
        in.allow = so_zap_allow_load(allow_path, err, sizeof(err));
        if (!in.allow) {
            so_err(WHO, "--allow-keys: %s", err);
            return 1;
        }
    }
    struct so_auth *auth = NULL;
    struct so_desk *desk = NULL;
    if (users && !(auth = load_users(users))) {
        so_zap_allow_destroy(in.allow);
        return 1;
    }
    in.db = open_db(db_path);
    in.cases = in.db ? so_cases_open(in.db, auto_close) : NULL;
    if (!in.cases) {
        goto cleanup;
    }
    if (sqlite3_prepare_v2(in.db,
                           "INSERT OR IGNORE INTO events (event_id, seq, detector_id, camera_id, "
                           "zone_id, kind, state, category_code, grid, media_start_s, "
                           "media_end_s, received_at, json, episode_id) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &in.ins_event, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(in.db,
                           "INSERT INTO evidence (event_id, idx, role, sha256, jpeg) "
                           "VALUES (?,?,?,?,?)",
                           -1, &in.ins_evidence, NULL) != SQLITE_OK) {
        so_err(WHO, "%s: %s", db_path, sqlite3_errmsg(in.db));
        goto cleanup;
    }
    in.zctx = zmq_ctx_new();
    in.router = in.zctx ? zmq_socket(in.zctx, ZMQ_ROUTER) : NULL;
    if (!in.router) {
        so_err(WHO, "cannot create the ROUTER socket: %s", zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    int linger = 500;
    zmq_setsockopt(in.router, ZMQ_LINGER, &linger, sizeof(linger));
    int mandatory = 1;      /* a command to a gone detector fails rather than vanishes */
    zmq_setsockopt(in.router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
    if (secret) {
        int one = 1;
        char pub[41];
        if (strlen(secret) != 40 || zmq_curve_public(pub, secret) != 0 ||
            zmq_setsockopt(in.router, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
            zmq_setsockopt(in.router, ZMQ_CURVE_SECRETKEY, secret, 40) != 0) {
            so_err(WHO, "--curve-secret: expected a 40-character Z85 secret key "
                   "(streetorder keygen)");
            goto cleanup;
        }
        so_info(WHO, "CURVE server, public key %s", pub);
        if (in.allow) {
            /* The ZAP handler must be bound before the first handshake: before the bind. */
            in.zap = zmq_socket(in.zctx, ZMQ_REP);
            if (!in.zap || zmq_bind(in.zap, "inproc://zeromq.zap.01") != 0) {
                so_err(WHO, "cannot bind the ZAP handler: %s", zmq_strerror(zmq_errno()));
                goto cleanup;
            }
            zmq_setsockopt(in.zap, ZMQ_LINGER, &linger, sizeof(linger));
            zmq_setsockopt(in.router, ZMQ_ZAP_DOMAIN, "streetorder", strlen("streetorder"));
            so_info(WHO, "only the %zu detector key%s of %s may deliver",
                    so_zap_allow_count(in.allow), so_zap_allow_count(in.allow) == 1 ? "" : "s",
                    allow_path);
        } else {
            so_info(WHO, "any client that knows this public key may deliver (no --allow-keys)");
        }
    }
    if (zmq_bind(in.router, bind) != 0) {
        so_err(WHO, "cannot bind %s: %s", bind, zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (http) {
        struct so_desk_opts dopts = {.listen = http, .cases = in.cases, .auth = auth, .ctx = &in,
                                     .flush = flush_commands, .detectors = peers_json};
        desk = so_desk_create(&dopts);
        if (!desk) {
            goto cleanup;
        }
    }
    so_info(WHO, "listening on %s, storing into %s", bind, db_path);
    if (run(&in, desk) == 0) {
        so_info(WHO, "stopping: %lu stored, %lu duplicates acknowledged again, %lu ignored, "
                "%lu clients refused, %lu command answers (%lu ignored)", in.stored,
                in.duplicates, in.ignored, in.refused, in.answers, in.bad_answers);
        status = 0;
    }
cleanup:
    so_desk_destroy(desk);
    if (in.router) {
        zmq_close(in.router);
    }
    if (in.zap) {
        zmq_close(in.zap);
    }
    if (in.zctx) {
        zmq_ctx_term(in.zctx);
    }
    sqlite3_finalize(in.ins_event);
    sqlite3_finalize(in.ins_evidence);
    so_cases_destroy(in.cases);
    sqlite3_close(in.db);
    so_zap_allow_destroy(in.allow);
    so_auth_destroy(auth);
    return status;
}
