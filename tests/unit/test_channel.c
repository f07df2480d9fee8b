/*
 * Unit tests of the delivery channel (delivery/channel.c) against a real ZeroMQ ROUTER played
 * by the test: a journalled event is sent as [ "SOE1", seq, json, parts ], acknowledged and
 * released from the outbox; a foreign reply is ignored; an event left unacknowledged when the
 * platform goes away is resent as soon as a new platform listens on the endpoint. Every wait
 * is bounded (5 s), so a broken channel fails the test instead of hanging it. Commands
 * [ "CMD", id, json ] reach on_command and are answered [ "CRES", id, answer ]; a CMD with a
 * bad id or the wrong number of frames is garbage: counted, nothing handed on.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "channel.h"
#include "outbox.h"
#include "testlib.h"
#include "timeutil.h"

#define WAIT_MS 5000

static char root[256];
static atomic_int acks_seen;
static atomic_ullong last_acked;

/* Slow on purpose: so_channel_drain() must not return before the callback has run. */
static void on_ack(void *opaque, uint64_t seq)
{
    (void)opaque;
    struct timespec ts = {0, 30 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&acks_seen, 1);
    atomic_store(&last_acked, seq);
}

static void *router_bind(void *zctx, const char *endpoint, char *bound, size_t size)
{
    void *r = zmq_socket(zctx, ZMQ_ROUTER);
    int timeout = WAIT_MS, linger = 0;
    zmq_setsockopt(r, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(r, endpoint) != 0) {
        zmq_close(r);
        return NULL;
    }
    if (bound) {
        zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, bound, &size);
    }
    return r;
}

/* One message from the channel: [identity, "SOE1", seq, json, parts...]. */
struct msg {
    int frames;
    char ident[256];
    size_t ident_len;
    char f[6][256];        /* frames after the identity, truncated, NUL-terminated */
    size_t f_len[6];
};

static bool router_recv(void *r, struct msg *m)
{
    memset(m, 0, sizeof(*m));
    int more = 1;
    while (more) {
        zmq_msg_t z;
        zmq_msg_init(&z);
        if (zmq_msg_recv(&z, r, 0) < 0) {
            zmq_msg_close(&z);
            return false;
        }
        size_t sz = zmq_msg_size(&z);
        if (m->frames == 0) {
            m->ident_len = sz < sizeof(m->ident) ? sz : sizeof(m->ident);
            memcpy(m->ident, zmq_msg_data(&z), m->ident_len);
        } else if (m->frames <= 6) {
            int k = m->frames - 1;
            m->f_len[k] = sz;
            memcpy(m->f[k], zmq_msg_data(&z), sz < 255 ? sz : 255);
        }
        m->frames++;
        more = zmq_msg_more(&z);
        zmq_msg_close(&z);
    }
    return true;
}

static void router_reply(void *r, const struct msg *to, const char *head, const char *seq)
{
    zmq_send(r, to->ident, to->ident_len, ZMQ_SNDMORE);
    zmq_send(r, head, strlen(head), seq ? ZMQ_SNDMORE : 0);
    if (seq) {
        zmq_send(r, seq, strlen(seq), 0);
    }
}

static int append(struct so_outbox *ob, uint64_t seq)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"seq\":%llu}", (unsigned long long)seq);
    static const uint8_t jpeg[4] = {0xff, 0xd8, 0xff, 0xd9};
    struct so_outbox_part part = {jpeg, sizeof(jpeg)};
    return so_outbox_append(ob, seq, json, (size_t)n, &part, 1);
}

static void test_send_ack_resend(void)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/outbox", root);
    struct so_outbox_opts bo = {.dir = dir, .fsync = false};
    struct so_outbox *ob = so_outbox_open(&bo);
    CHECK(ob != NULL);
    void *zctx = zmq_ctx_new();
    char endpoint[256] = "";
    void *r = router_bind(zctx, "tcp://127.0.0.1:*", endpoint, sizeof(endpoint));
    CHECK(r != NULL);
    if (!ob || !r) {
        return;
    }

    CHECK_INT(append(ob, 1), 0);
    struct so_channel_opts co = {.endpoint = endpoint, .outbox = ob, .resend_s = 30,
                                 .on_ack = on_ack};
    struct so_channel *ch = so_channel_create(&co);
    CHECK(ch != NULL);
    so_channel_notify(ch, 1);

    /* Sent in the protocol's shape, acknowledged, released. */
    struct msg m;
    CHECK(router_recv(r, &m));
    CHECK_INT(m.frames, 5);
    CHECK_STR(m.f[0], SO_PROTOCOL);
    CHECK_STR(m.f[1], "1");
    CHECK_STR(m.f[2], "{\"seq\":1}");
    CHECK_INT(m.f_len[3], 4);
    router_reply(r, &m, "NOPE", NULL);      /* foreign: logged and ignored */
    router_reply(r, &m, "ACK", "1");
    struct timespec mid_ack = {0, 10 * 1000000L};   /* drain called while on_ack runs */
    nanosleep(&mid_ack, NULL);
    CHECK_INT(so_channel_drain(ch, WAIT_MS / 1000.0), 0);
    CHECK_INT(so_outbox_pending(ob), 0);
    CHECK_INT(so_outbox_acked(ob), 1);
    CHECK_INT(atomic_load(&acks_seen), 1);
    CHECK_INT(atomic_load(&last_acked), 1);

    /* Sent, not acknowledged; the platform goes away and a new one listens on the same
     * endpoint: the record is resent at once after the reconnection (no 30 s timeout). */
    CHECK_INT(append(ob, 2), 0);
    so_channel_notify(ch, 2);
    CHECK(router_recv(r, &m));
    CHECK_STR(m.f[1], "2");
    zmq_close(r);
    r = NULL;
    for (int i = 0; i < 100 && !r; i++) {   /* the old socket's port is freed asynchronously */
        r = router_bind(zctx, endpoint, NULL, 0);
        if (!r) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(r != NULL);
    bool resent = false;
    while (r && router_recv(r, &m)) {
        if (strcmp(m.f[1], "2") == 0) {
            resent = true;
            router_reply(r, &m, "ACK", "2");
            break;
        }
    }
    CHECK(resent);
    CHECK_INT(so_channel_drain(ch, WAIT_MS / 1000.0), 0);
    CHECK_INT(so_outbox_acked(ob), 2);
    struct so_channel_stats st;
    so_channel_get_stats(ch, &st);
    CHECK_INT(st.sent, 2);
    CHECK_INT(st.acked, 2);
    /* when the last acknowledgement came (the console's grid shows it) */
    CHECK(st.last_ack_wall > so_time_wall() - 60 && st.last_ack_wall <= so_time_wall());
    CHECK(st.resent >= 1);      /* after the reconnection, not after 30 s */
    CHECK_INT(atomic_load(&acks_seen), 2);

    so_channel_destroy(ch);
    so_outbox_close(ob);
    zmq_close(r);
    zmq_ctx_term(zctx);
}

static atomic_int commands_seen;

static char *on_command(void *opaque, const char *id, const char *json, size_t len)
{
    (void)opaque;
    atomic_fetch_add(&commands_seen, 1);
    char *out = malloc(64 + len);
    snprintf(out, 64 + len, "answer %s to %.*s", id, (int)len, json);
    return out;
}

static void send_frames(void *r, const struct msg *to, const char *const *f, int n)
{
    zmq_send(r, to->ident, to->ident_len, ZMQ_SNDMORE);
    for (int i = 0; i < n; i++) {
        zmq_send(r, f[i], strlen(f[i]), i + 1 < n ? ZMQ_SNDMORE : 0);
    }
}

/* Commands flow the other way on the same connection, between records and their ACKs. */
static void test_commands(void)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/outbox-cmd", root);
    struct so_outbox_opts bo = {.dir = dir, .fsync = false};
    struct so_outbox *ob = so_outbox_open(&bo);
    void *zctx = zmq_ctx_new();
    char endpoint[256] = "";
    void *r = router_bind(zctx, "tcp://127.0.0.1:*", endpoint, sizeof(endpoint));
    CHECK(ob && r);
    CHECK_INT(append(ob, 1), 0);
    struct so_channel_opts co = {.endpoint = endpoint, .outbox = ob, .resend_s = 30,
                                 .on_command = on_command};
    struct so_channel *ch = so_channel_create(&co);
    so_channel_notify(ch, 1);
    struct msg m, ev;
    CHECK(router_recv(r, &ev));     /* the record: now the ROUTER knows the detector */
    static const char *const bad_id[] = {"CMD", "a b", "{}"}, *const two[] = {"CMD", "x"},
                             *const good[] = {"CMD", "c-1", "{\"k\":1}"},
                             *const alone[] = {"CMD"};
    send_frames(r, &ev, bad_id, 3);
    send_frames(r, &ev, alone, 1);
    send_frames(r, &ev, two, 2);    /* an id that can be read: answered ok:false */
    CHECK(router_recv(r, &m));
    CHECK_STR(m.f[0], "CRES");
    CHECK_STR(m.f[1], "x");
    CHECK_CONTAINS(m.f[2], "\"ok\":false");
    send_frames(r, &ev, good, 3);
    CHECK(router_recv(r, &m));
    CHECK_INT(m.frames, 4);
    CHECK_STR(m.f[0], "CRES");
    CHECK_STR(m.f[1], "c-1");
    CHECK_STR(m.f[2], "answer c-1 to {\"k\":1}");
    router_reply(r, &ev, "ACK", "1");
    CHECK_INT(so_channel_drain(ch, WAIT_MS / 1000.0), 0);
    struct so_channel_stats st;
    so_channel_get_stats(ch, &st);
    CHECK_INT(st.commands, 1);
    CHECK_INT(st.garbage, 3);
    CHECK_INT(atomic_load(&commands_seen), 1);
    so_channel_destroy(ch);
    so_outbox_close(ob);
    zmq_close(r);
    zmq_ctx_term(zctx);
}

/* Nothing listening: records stay pending, drain gives up in time and says how many. */
static void test_no_platform(void)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/outbox-alone", root);
    struct so_outbox_opts bo = {.dir = dir, .fsync = false};
    struct so_outbox *ob = so_outbox_open(&bo);
    CHECK(ob != NULL);
    if (!ob) {
        return;
    }
    CHECK_INT(append(ob, 1), 0);
    CHECK_INT(append(ob, 2), 0);
    struct so_channel_opts co = {.endpoint = "tcp://127.0.0.1:1", .outbox = ob};
    struct so_channel *ch = so_channel_create(&co);
    CHECK(ch != NULL);
    so_channel_notify(ch, 2);
    CHECK_INT(so_channel_drain(ch, 0.2), 2);
    struct so_channel_stats st;
    so_channel_get_stats(ch, &st);
    CHECK_INT(st.sent, 0);      /* ZMQ_IMMEDIATE: nothing "sent" into the void */
    so_channel_destroy(ch);
    CHECK_INT(so_outbox_pending(ob), 2);
    so_outbox_close(ob);
}

int main(void)
{
    snprintf(root, sizeof(root), "/tmp/so-test-channel-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_send_ack_resend();
    test_commands();
    test_no_platform();
    so_test_rm_rf(root);
    return so_test_done();
}
