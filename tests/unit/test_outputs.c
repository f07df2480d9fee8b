/*
 * Unit tests of the outputs (events/outputs.c and its sinks): events leave in submission order
 * with a contiguous seq, the seq survives a restart through <state_dir>/seq, each record line
 * reaches each file in one write(2), the queue bound drops (counted) live and waits with
 * wait_when_full, the console line's format, and warning_seq (a warned episode's records name
 * its warning's seq).
 *
 * The outputs thread is stalled for real: the --events file is a FIFO whose reader does not
 * read until the test says so, so the thread blocks in write(2) as it would on a stuck disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "outputs.h"
#include "sink_console.h"
#include "testlib.h"

/* write(2) interposed: every call that starts a record ("{\"schema\"") is recorded, so the
 * test can tell one write per line from a line written in pieces. Other writes pass through. */
#define MAX_WRITES 256
static atomic_int n_record_writes;
static size_t record_write_len[MAX_WRITES];
static bool record_write_whole[MAX_WRITES];

ssize_t write(int fd, const void *buf, size_t len)
{
    if (len >= 10 && memcmp(buf, "{\"schema\"", 9) == 0) {
        int i = atomic_fetch_add(&n_record_writes, 1);
        if (i < MAX_WRITES) {
            const char *nl = memchr(buf, '\n', len);
            record_write_len[i] = len;
            record_write_whole[i] = nl == (const char *)buf + len - 1;
        }
    }
    return syscall(SYS_write, fd, buf, len);
}

static char root[256];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* An event as the analysis would submit it: a record with a padding field of `pad` bytes (to
 * fill a pipe quickly) and, optionally, one evidence image of a few bytes. */
static struct so_event *make_event(int i, size_t pad, bool evidence)
{
    struct so_event *ev = calloc(1, sizeof(*ev));
    snprintf(ev->event_id, sizeof(ev->event_id), "ev%04d", i);
    snprintf(ev->topic, sizeof(ev->topic), "event.test.cam");
    char *padding = malloc(pad + 1);
    memset(padding, 'x', pad);
    padding[pad] = 0;
    ev->record = json_pack("{s:s, s:s, s:s}", "schema", SO_EVENT_SCHEMA, "event_id",
                           ev->event_id, "pad", padding);
    free(padding);
    if (evidence) {
        struct so_evidence *e = &ev->evidence[ev->n_evidence++];
        e->jpeg = malloc(4);
        memcpy(e->jpeg, "\xff\xd8\xff\xd9", 4);
        e->size = 4;
        snprintf(e->file, sizeof(e->file), "%s-rest.jpg", ev->event_id);
    }
    return ev;
}

static struct so_config make_config(const char *state_dir, const char *jsonl)
{
    return (struct so_config){
        .detector_id = (char *)"test",
        .state_dir = (char *)state_dir,
        .jsonl = (char *)jsonl,
    };
}

/* Lines of a file as records; returns how many (at most max), each json_t owned by caller. */
static int read_records(const char *path, json_t **out, int max)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    char line[8192];
    while (f && n < max && fgets(line, sizeof(line), f)) {
        out[n++] = json_loads(line, 0, NULL);
    }
    if (f) {
        fclose(f);
    }
    return n;
}

static long long rec_seq(const json_t *r)
{
    return json_integer_value(json_object_get(r, "seq"));
}

static const char *rec_id(const json_t *r)
{
    return json_string_value(json_object_get(r, "event_id"));
}

static void free_records(json_t **r, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(r[i]);
    }
}

static void test_order_files_and_seq(void)
{
    char state[300], events[320], seqfile[320], evfile[340];
    snprintf(state, sizeof(state), "%s/order", root);
    snprintf(events, sizeof(events), "%s/events.jsonl", state);
    snprintf(seqfile, sizeof(seqfile), "%s/seq", state);
    snprintf(evfile, sizeof(evfile), "%s/evidence/ev0003-rest.jpg", state);
    struct so_config cfg = make_config(state, "out/all.jsonl");
    struct so_outputs_opts opts = {.config = &cfg, .events_path = events};

    atomic_store(&n_record_writes, 0);
    struct so_outputs *o = so_outputs_create(&opts);
    CHECK(o != NULL);
    for (int i = 0; i < 20; i++) {
        so_outputs_submit(o, make_event(i, 16, i == 3));
    }
    so_outputs_destroy(o);

    json_t *recs[64];
    int n = read_records(events, recs, 64);
    CHECK_INT(n, 20);
    bool in_order = true;
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "ev%04d", i);
        in_order = in_order && rec_seq(recs[i]) == i + 1 && strcmp(rec_id(recs[i]), id) == 0;
    }
    CHECK(in_order);
    free_records(recs, n);
    char jsonl[340];
    snprintf(jsonl, sizeof(jsonl), "%s/out/all.jsonl", state);
    n = read_records(jsonl, recs, 64);
    CHECK_INT(n, 20);
    free_records(recs, n);

    /* Each line reached each file (--events, JSONL) in one write of the whole line. */
    int writes = atomic_load(&n_record_writes);
    CHECK_INT(writes, 40);
    bool whole = true;
    for (int i = 0; i < writes && i < MAX_WRITES; i++) {
        whole = whole && record_write_whole[i] && record_write_len[i] > 20;
    }
    CHECK(whole);

    struct stat st;
    CHECK(stat(evfile, &st) == 0 && st.st_size == 4);

    /* The seq survives a restart: the next run continues at 21. */
    FILE *f = fopen(seqfile, "r");
    unsigned long long saved = 0;
    CHECK(f && fscanf(f, "%llu", &saved) == 1);
    if (f) {
        fclose(f);
    }
    CHECK_INT(saved, 20);
    o = so_outputs_create(&opts);
    CHECK(o != NULL);
    so_outputs_submit(o, make_event(100, 16, false));
    so_outputs_destroy(o);
    n = read_records(events, recs, 64);
    CHECK_INT(n, 1);        /* --events is truncated per run */
    CHECK_INT(n ? rec_seq(recs[0]) : 0, 21);
    free_records(recs, n);
}

/* A stalled outputs thread: --events is a FIFO with a 4 KiB buffer that nobody reads. */
struct stall {
    char fifo[320];
    int rd;
    pthread_t reader;
    char *data;             /* what the reader got, NUL-terminated */
    size_t len;
};

static void stall_init(struct stall *s, const char *state)
{
    memset(s, 0, sizeof(*s));
    mkdir(state, 0755);
    snprintf(s->fifo, sizeof(s->fifo), "%s/events.fifo", state);
    CHECK(mkfifo(s->fifo, 0644) == 0);
    s->rd = open(s->fifo, O_RDONLY | O_NONBLOCK);
    CHECK(s->rd >= 0);
    fcntl(s->rd, F_SETPIPE_SZ, 4096);
}

static void *reader_main(void *arg)
{
    struct stall *s = arg;
    fcntl(s->rd, F_SETFL, 0);      /* blocking from now on: read until the writer closes */
    size_t cap = 1 << 16;
    s->data = malloc(cap);
    for (;;) {
        if (s->len + 4096 + 1 > cap) {
            cap *= 2;
            s->data = realloc(s->data, cap);
        }
        ssize_t n = read(s->rd, s->data + s->len, 4096);
        if (n <= 0) {
            break;
        }
        s->len += (size_t)n;
    }
    s->data[s->len] = 0;
    return NULL;
}

static void stall_release(struct stall *s)
{
    pthread_create(&s->reader, NULL, reader_main, s);
}

/* After the outputs are destroyed: join the reader, return the number of lines read. */
static int stall_finish(struct stall *s)
{
    pthread_join(s->reader, NULL);
    close(s->rd);
    int lines = 0;
    for (size_t i = 0; i < s->len; i++) {
        lines += s->data[i] == '\n';
    }
    return lines;
}

/* Submit events one by one until the thread stops getting them written (blocked in write on
 * the full FIFO, holding the last one). Returns how many were submitted. */
static int fill_until_stuck(struct so_outputs *o)
{
    for (int i = 0; i < 200; i++) {
        so_outputs_submit(o, make_event(i, 1000, false));
        int waited = 0;
        while (so_outputs_count(o) < (unsigned long)i + 1 && waited < 300) {
            sleep_ms(5);
            waited += 5;
        }
        if (so_outputs_count(o) < (unsigned long)i + 1) {
            return i + 1;
        }
    }
    return -1;
}

/* Outputs in <root>/<name> whose thread is stuck writing, after `*stuck` events submitted
 * (config in *cfg, which must outlive them). NULL on failure (reported). */
static struct so_outputs *stalled_outputs(const char *name, struct stall *s,
                                          struct so_config *cfg, size_t queue_max, bool wait,
                                          int *stuck)
{
    char state[300];
    snprintf(state, sizeof(state), "%s/%s", root, name);
    stall_init(s, state);
    *cfg = make_config(strdup(state), NULL);
    struct so_outputs_opts opts = {.config = cfg, .events_path = s->fifo,
                                   .queue_max = queue_max, .wait_when_full = wait};
    struct so_outputs *o = so_outputs_create(&opts);
    CHECK(o != NULL);
    if (o) {
        *stuck = fill_until_stuck(o);
        CHECK(*stuck > 0);
    }
    return o;
}

static void test_bound_drops_live(void)
{
    struct stall s;
    struct so_config cfg;
    int stuck = 0;
    struct so_outputs *o = stalled_outputs("drop", &s, &cfg, 8, false, &stuck);
    if (!o) {
        return;
    }
    CHECK_INT(so_outputs_queued(o), 0);         /* the thread holds the last one */
    for (int i = 0; i < 8 + 3; i++) {
        so_outputs_submit(o, make_event(1000 + i, 1000, false));
    }
    CHECK_INT(so_outputs_queued(o), 8);
    CHECK_INT(so_outputs_dropped(o), 3);        /* the three that found the queue full */
    so_outputs_health(o, "cam", "live", NULL);  /* health records are not bounded */
    CHECK_INT(so_outputs_queued(o), 8);
    stall_release(&s);
    so_outputs_destroy(o);
    int lines = stall_finish(&s);
    CHECK_INT(lines, stuck + 8);
    /* The kept ones are in order, numbered without gaps; the dropped ones are not there. */
    CHECK(strstr(s.data, "\"event_id\":\"ev1007\",\"pad\"") != NULL);
    CHECK(strstr(s.data, "\"ev1008\"") == NULL);
    char last[64];
    snprintf(last, sizeof(last), "\"seq\":%d}", stuck + 8);
    CHECK(strstr(s.data, last) != NULL);
    free(s.data);
    free(cfg.state_dir);
}

struct producer {
    struct so_outputs *o;
    int n;
    atomic_bool done;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->n; i++) {
        so_outputs_submit(p->o, make_event(2000 + i, 1000, false));
    }
    atomic_store(&p->done, true);
    return NULL;
}

static void test_bound_waits_fast(void)
{
    struct stall s;
    struct so_config cfg;
    int stuck = 0;
    struct so_outputs *o = stalled_outputs("wait", &s, &cfg, 2, true, &stuck);
    if (!o) {
        return;
    }
    struct producer p = {.o = o, .n = 5};
    atomic_init(&p.done, false);
    pthread_t t;
    pthread_create(&t, NULL, producer_main, &p);
    sleep_ms(200);
    CHECK(!atomic_load(&p.done));               /* waiting for room, not dropping */
    CHECK_INT(so_outputs_queued(o), 2);
    CHECK_INT(so_outputs_dropped(o), 0);
    stall_release(&s);
    pthread_join(t, NULL);
    CHECK(atomic_load(&p.done));
    so_outputs_destroy(o);
    CHECK_INT(stall_finish(&s), stuck + 5);
    free(s.data);
    free(cfg.state_dir);
}

static void test_console_format(void)
{
    static const struct {
        const char *state;
        double media_end_s, occupancy, media_warned_s;
        const char *objects;        /* JSON array */
        const char *want[4];
        const char *not_want;
    } cases[] = {
        {"opened", -1, 0.42, -1, "[{\"class\":\"car\",\"score\":0.91},{\"class\":\"object\"}]",
         {"OPENED", "media from 12.0s", "42% of zone", "car 0.91, 1 more object"}, "warned"},
        {"cleared", 30.5, -1, -1, "[{\"class\":\"object\"},{\"class\":\"object\"}]",
         {"CLEARED", "media 12.0-30.5s (gone)", "  2 objects", "seq 7"}, "warned"},
        /* warn_s (issue 16): the warning, its end, and the case it became */
        {"warning", -1, -1, 22.0, "[{\"class\":\"car\",\"score\":0.8}]",
         {"WARNING ", "media from 12.0s", "car 0.80", "seq 7"}, "warned"},
        {"warning_cleared", 30.5, -1, 22.0, "[{\"class\":\"car\",\"score\":0.8}]",
         {"WARNING_CLEARED", "media 12.0-30.5s (gone)", "car 0.80", "seq 7"}, "warned"},
        {"opened", -1, -1, 22.0, "[{\"class\":\"car\",\"score\":0.8}]",
         {"OPENED", "warned at 22.0s", "media from 12.0s", "seq 7"}, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_event ev = {.media_start_s = 12.0, .media_end_s = cases[i].media_end_s,
                              .occupancy = cases[i].occupancy, .dwell_s = 125, .wall_s = 0,
                              .media_warned_s = cases[i].media_warned_s};
        snprintf(ev.state, sizeof(ev.state), "%s", cases[i].state);
        snprintf(ev.camera_id, sizeof(ev.camera_id), "cam-1");
        snprintf(ev.zone_id, sizeof(ev.zone_id), "bay-A");
        snprintf(ev.kind, sizeof(ev.kind), "blocked_bay");
        snprintf(ev.reason, sizeof(ev.reason), "gone");
        json_t *rec = json_pack("{s:I, s:o, s:{s:s, s:s}, s:s}", "seq", (json_int_t)7,
                                "objects", json_loads(cases[i].objects, 0, NULL), "category",
                                "code", "P12", "name", "Blocked bay", "grid", "33UXP");
        char line[1024];
        so_sink_console_format(&ev, rec, line, sizeof(line));
        CHECK_CONTAINS(line, "cam-1");
        CHECK_CONTAINS(line, "[P12 Blocked bay]");
        CHECK_CONTAINS(line, "grid 33UXP");
        for (int k = 0; k < 4; k++) {
            CHECK_CONTAINS(line, cases[i].want[k]);
        }
        CHECK(!cases[i].not_want || !strstr(line, cases[i].not_want));
        json_decref(rec);
    }
}

/*
 * warn_s: a warned episode's later records name the seq of its warning (warning_seq); records
 * of other episodes, and of episodes not warned, do not. Rows: state, episode, warned, and the
 * warning_seq expected (0: none).
 */
static void test_warning_seq(void)
{
    static const struct {
        const char *state, *episode;
        bool warned;
        long long want;
    } rows[] = {
        {"opened", "e0", false, 0},
        {"warning", "e1", true, 0},             /* seq 2 */
        {"warning", "e2", true, 0},             /* seq 3 */
        {"opened", "e1", true, 2},
        {"update", "e1", true, 2},
        {"warning_cleared", "e2", true, 3},
        {"opened", "e3", true, 0},              /* its warning was before a restart */
        {"cleared", "e0", false, 0},
    };
    size_t n_rows = sizeof(rows) / sizeof(rows[0]);
    char state[300], events[320];
    snprintf(state, sizeof(state), "%s/warnseq", root);
    snprintf(events, sizeof(events), "%s/events.jsonl", state);
    struct so_config cfg = make_config(state, NULL);
    struct so_outputs_opts opts = {.config = &cfg, .events_path = events};
    struct so_outputs *o = so_outputs_create(&opts);
    if (!CHECK(o != NULL)) {
        return;
    }
    for (size_t i = 0; i < n_rows; i++) {
        struct so_event *ev = make_event((int)i, 1, false);
        snprintf(ev->state, sizeof(ev->state), "%s", rows[i].state);
        json_object_set_new(ev->record, "episode_id", json_string(rows[i].episode));
        if (rows[i].warned) {
            json_object_set_new(ev->record, "media_warned_s", json_real(12.5));
        }
        so_outputs_submit(o, ev);
    }
    so_outputs_destroy(o);
    json_t *recs[16];
    int n = read_records(events, recs, 16);
    CHECK_INT(n, (int)n_rows);
    for (int i = 0; i < n && i < (int)n_rows; i++) {
        const json_t *ws = json_object_get(recs[i], "warning_seq");
        long long got = ws ? json_integer_value(ws) : 0;
        so_test_check(got == rows[i].want && (!ws || json_is_integer(ws)), __FILE__, __LINE__,
                      "%s of %s: warning_seq %lld (want %lld)", rows[i].state,
                      rows[i].episode, got, rows[i].want);
    }
    free_records(recs, n);
}

/* Wait up to 5 s for the delivery figures to show `pending` records. */
static bool wait_pending(struct so_outputs *o, size_t pending, struct so_delivery_stats *d)
{
    for (int waited = 0; waited < 5000; waited += 5) {
        so_outputs_delivery_stats(o, d);
        if (d->pending == pending) {
            return true;
        }
        sleep_ms(5);
    }
    return false;
}

/* Acknowledge the next record the channel sends to ROUTER `r`: [id, SOE1, seq, json...]; a
 * [id, HELO, detector_id] (said on connecting) is read past. */
static bool ack_next(void *r)
{
    char id[256], tag[8] = "", seq[32] = "";
    int id_len;
    do {
        id_len = zmq_recv(r, id, sizeof(id), 0);
        int more = 1, frames = 0, n;
        size_t sz = sizeof(more);
        while (id_len >= 0 && more) {
            char buf[2048];
            n = zmq_recv(r, buf, sizeof(buf) - 1, 0);
            if (n < 0) {
                return false;
            }
            if (++frames <= 2) {
                snprintf(frames == 1 ? tag : seq, frames == 1 ? sizeof(tag) : sizeof(seq),
                         "%.*s", n, buf);
            }
            zmq_getsockopt(r, ZMQ_RCVMORE, &more, &sz);
        }
    } while (id_len >= 0 && strcmp(tag, "HELO") == 0);
    return id_len >= 0 && seq[0] && zmq_send(r, id, (size_t)id_len, ZMQ_SNDMORE) >= 0
           && zmq_send(r, "ACK", 3, ZMQ_SNDMORE) >= 0 && zmq_send(r, seq, strlen(seq), 0) >= 0;
}

/* With delivery on, the figures /metrics reads follow appends and acknowledgements. */
static void test_delivery_figures(void)
{
    void *zctx = zmq_ctx_new();
    void *r = zmq_socket(zctx, ZMQ_ROUTER);
    int timeout = 5000, linger = 0;
    zmq_setsockopt(r, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof(linger));
    char endpoint[256];
    size_t size = sizeof(endpoint);
    CHECK(zmq_bind(r, "tcp://127.0.0.1:*") == 0);
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, endpoint, &size);

    char state[300];
    snprintf(state, sizeof(state), "%s/deliver", root);
    struct so_config cfg = make_config(state, NULL);
    cfg.deliver = (struct so_deliver_cfg){.endpoint = endpoint, .quota_mb = 16, .resend_s = 30};
    struct so_outputs_opts opts = {.config = &cfg};
    struct so_outputs *o = so_outputs_create(&opts);
    CHECK(o != NULL);
    struct so_delivery_stats d;
    so_outputs_submit(o, make_event(1, 16, true));
    so_outputs_submit(o, make_event(2, 16, false));
    CHECK(wait_pending(o, 2, &d));
    CHECK(d.enabled);
    CHECK(d.outbox_bytes > 0);
    CHECK(d.oldest_age_s >= 0 && d.oldest_age_s < 60);
    CHECK(ack_next(r));
    CHECK(wait_pending(o, 1, &d));
    CHECK(ack_next(r));
    CHECK(wait_pending(o, 0, &d));
    CHECK_DBL(d.oldest_age_s, 0, 1e-9);
    CHECK_INT(d.acked, 2);
    CHECK_INT(so_outputs_drain(o, 1, NULL, NULL), 0);
    so_outputs_destroy(o);
    zmq_close(r);
    zmq_ctx_term(zctx);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/so-test-outputs-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_order_files_and_seq();
    test_bound_drops_live();
    test_bound_waits_fast();
    test_console_format();
    test_warning_seq();
    test_delivery_figures();
    so_test_rm_rf(root);
    return so_test_done();
}
