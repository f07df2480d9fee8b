/*
 * Why this file exists: the platform may be down for hours, restart mid-stream, or lose a
 * message on a dying TCP connection; the detector must keep analysing meanwhile and deliver
 * everything once the platform is back, at least once, in seq order (a receiver dedupes by
 * event_id). This is the one thread that talks to the platform.
 *
 * Design (CZMQ-style actor): the DEALER and its monitor socket are created by
 * so_channel_create() and handed to the channel thread, which is the only thread that touches
 * them afterwards. The outputs thread wakes it through a self-pipe (never a blocking call) after
 * each outbox append; the thread then reads the records back from the outbox itself, so memory
 * use does not grow with the backlog: at most WINDOW records are in flight.
 * - ZMQ_IMMEDIATE: while no platform is connected, sends fail with EAGAIN instead of queueing
 *   in ZeroMQ, so the outbox stays the only queue and nothing is "sent" into the void.
 * - Resend: an in-flight record without an ACK after resend_s is sent again, the timeout
 *   doubling up to 60 s; after a (re)connection every in-flight record is resent at once
 *   (the old connection may have swallowed them).
 * - Replies are validated: anything but [ "ACK", <digits> ] or [ "CMD", id, json ] is
 *   logged (at most once a second) and ignored, and counted on /metrics. A command with a
 *   valid id goes to opts.on_command (the command desk: parsing, journal, hand-off to the
 *   cameras, none of which waits on a camera) and its answer goes back at once as
 *   [ "CRES", id, json ]; the answer is not queued nor resent: a platform that missed it
 *   resends the command, and the journal answers the same again.
 * - Stop is immediate (no drain here): so_channel_drain() is the caller's explicit wait.
 */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "command.h"
#include "log.h"
#include "timeutil.h"

#define WHO "deliver"
#define WINDOW 128
#define RESEND_MAX_S 60.0
#define MAX_FRAMES 4    /* frames of a message from the platform looked at; more is garbage */

struct flight {
    uint64_t seq;
    double deadline;
    int tries;
};

struct so_channel {
    struct so_outbox *outbox;
    char *endpoint;
    char *detector_id;          /* NULL: no HELO */
    double resend_s;
    void (*on_ack)(void *opaque, uint64_t seq);
    void *opaque;
    char *(*on_command)(void *opaque, const char *id, const char *json, size_t len);
    void *command_opaque;
    void *zctx, *dealer, *monitor;
    int wake_rd, wake_wr;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_uint_fast64_t appended;   /* highest seq the outputs told us about */
    atomic_uint_fast64_t n_sent, n_resent, n_acked;  /* for so_channel_get_stats() */
    atomic_uint_fast64_t n_commands, n_garbage;
    atomic_int_fast64_t last_ack_ms;    /* wall time of the last acknowledgement, 0: none */
    /* drain waiters */
    pthread_mutex_t lock;
    pthread_cond_t acked;
    /* thread-only state */
    struct flight flights[WINDOW];
    int n_flights;
    uint64_t sent_upto;             /* every pending seq <= this has been sent at least once */
    bool connected;
    double foreign_logged;
};

static double backoff(const struct so_channel *ch, int tries)
{
    double t = ch->resend_s;
    for (int i = 1; i < tries && t < RESEND_MAX_S; i++) {
        t *= 2;
    }
    return t < RESEND_MAX_S ? t : RESEND_MAX_S;
}

/* Send one record. 0, -EAGAIN (no platform connected / queue full), -ENOENT (acknowledged
 * meanwhile), or another error (logged, record skipped this round). */
static int send_record(struct so_channel *ch, uint64_t seq)
{
    struct so_outbox_record r;
    int rc = so_outbox_read(ch->outbox, seq, &r);
    if (rc < 0) {
        return rc;
    }
    char seqs[24];
    int n = snprintf(seqs, sizeof(seqs), "%" PRIu64, seq);
    if (zmq_send(ch->dealer, SO_PROTOCOL, 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        rc = zmq_errno() == EAGAIN ? -EAGAIN : -zmq_errno();
        so_outbox_record_finish(&r);
        return rc;
    }
    /* The rest of a multipart message cannot fail once the first frame is accepted. */
    zmq_send(ch->dealer, seqs, (size_t)n, ZMQ_SNDMORE);
    zmq_send(ch->dealer, r.json, r.json_len, r.n_parts ? ZMQ_SNDMORE : 0);
    for (int i = 0; i < r.n_parts; i++) {
        zmq_send(ch->dealer, r.parts[i].data, r.parts[i].size,
                 i + 1 < r.n_parts ? ZMQ_SNDMORE : 0);
    }
    so_outbox_record_finish(&r);
    return 0;
}

/* Flights stay in seq order, so resends after a reconnection keep the order of the events. */
static void drop_flight(struct so_channel *ch, int i)
{
    memmove(ch->flights + i, ch->flights + i + 1,
            (size_t)(ch->n_flights - i - 1) * sizeof(*ch->flights));
    ch->n_flights--;
}

/* Send new records while the window has room. */
static void fill_window(struct so_channel *ch)
{
    while (ch->n_flights < WINDOW) {
        uint64_t seq = so_outbox_next(ch->outbox, ch->sent_upto);
        if (!seq) {
            return;
        }
        int rc = send_record(ch, seq);
        if (rc == -EAGAIN) {
            return;
        }
        ch->sent_upto = seq;
        if (rc == 0) {
            atomic_fetch_add(&ch->n_sent, 1);
            ch->flights[ch->n_flights++] = (struct flight){seq, so_time_mono() + backoff(ch, 1), 1};
        }
    }
}

/* Resend every flight past its deadline, in seq order. False when the socket would block
 * (not connected): the caller must then not send anything newer. */
static bool resend_due(struct so_channel *ch)
{
    double now = so_time_mono();
    for (int i = 0; i < ch->n_flights;) {
        struct flight *f = &ch->flights[i];
        if (f->deadline > now) {
            i++;
            continue;
        }
        int rc = send_record(ch, f->seq);
        if (rc == -ENOENT) {
            drop_flight(ch, i);
            continue;
        }
        if (rc == -EAGAIN) {
            return false;   /* not connected: the reconnection will resend them all */
        }
        atomic_fetch_add(&ch->n_resent, 1);
        f->tries++;
        f->deadline = now + backoff(ch, f->tries);
        if (f->tries == 2 || f->tries % 10 == 0) {
            so_debug(WHO, "seq %" PRIu64 " unacknowledged: resent (try %d)", f->seq, f->tries);
        }
        i++;
    }
    return true;
}

static void log_foreign(struct so_channel *ch, const char *what)
{
    uint64_t n = atomic_fetch_add(&ch->n_garbage, 1) + 1;
    double now = so_time_mono();
    if (now - ch->foreign_logged >= 1.0) {
        so_warn(WHO, "ignored a message from %s that is neither [\"ACK\", seq] nor "
                "[\"CMD\", id, json]: %s (%" PRIu64 " so far)", ch->endpoint, what, n);
        ch->foreign_logged = now;
    }
}

/* A message from the platform: its first MAX_FRAMES frames, and how many it had. */
struct message {
    zmq_msg_t part[MAX_FRAMES];
    int n, frames;
};

static bool frame_is(const struct message *m, int i, const char *text)
{
    size_t len = strlen(text);
    return zmq_msg_size((zmq_msg_t *)&m->part[i]) == len &&
           memcmp(zmq_msg_data((zmq_msg_t *)&m->part[i]), text, len) == 0;
}

static void handle_ack(struct so_channel *ch, const char *seqs, size_t seq_len)
{
    bool digits = seq_len > 0 && seq_len < 21;
    for (size_t i = 0; digits && i < seq_len; i++) {
        digits = seqs[i] >= '0' && seqs[i] <= '9';
    }
    char buf[24] = "";
    if (digits) {
        memcpy(buf, seqs, seq_len);
    }
    uint64_t seq = digits ? strtoull(buf, NULL, 10) : 0;
    if (!seq) {
        log_foreign(ch, "ACK without a decimal seq");
        return;
    }
    for (int i = 0; i < ch->n_flights; i++) {
        if (ch->flights[i].seq == seq) {
            drop_flight(ch, i);
            break;
        }
    }
    /* Under the lock: so_channel_drain() reads the pending count under it, so whoever it
     * wakes sees this acknowledgement whole (counted, timed, on_ack called), not half. */
    pthread_mutex_lock(&ch->lock);
    if (so_outbox_ack(ch->outbox, seq) == 0) {
        atomic_fetch_add(&ch->n_acked, 1);
        atomic_store(&ch->last_ack_ms, (int_fast64_t)(so_time_wall() * 1000));
        if (ch->on_ack) {
            ch->on_ack(ch->opaque, seq);
        }
        pthread_cond_broadcast(&ch->acked);
    }
    pthread_mutex_unlock(&ch->lock);
}

/* Send [ "CRES", id, answer ] (never waits: a platform that does not read its answers loses
 * them, and resends the command). Frees the answer. */
static void answer(struct so_channel *ch, const char *id, char *json)
{
    if (!json) {
        return;
    }
    if (zmq_send(ch->dealer, "CRES", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        so_warn(WHO, "command %s: answer not sent (%s)", id, zmq_strerror(zmq_errno()));
    } else {
        zmq_send(ch->dealer, id, strlen(id), ZMQ_SNDMORE);
        zmq_send(ch->dealer, json, strlen(json), 0);
    }
    free(json);
}

/* The id of a "CMD" message (its second frame) when it is a valid one, else false. */
static bool command_id(struct message *m, char id[SO_COMMAND_ID_MAX + 1])
{
    size_t id_len = m->n > 1 ? zmq_msg_size(&m->part[1]) : 0;
    if (!id_len || !so_command_id_valid(zmq_msg_data(&m->part[1]), id_len)) {
        return false;
    }
    memcpy(id, zmq_msg_data(&m->part[1]), id_len);
    id[id_len] = '\0';
    return true;
}

/* [ "CMD", id, json ]: hand it on and answer. A "CMD" of another number of frames whose id can
 * be read is garbage, answered ok:false; without a valid id it is only garbage. */
static void handle_command(struct so_channel *ch, struct message *m)
{
    char id[SO_COMMAND_ID_MAX + 1];
    if (!command_id(m, id)) {
        log_foreign(ch, "CMD without a valid id");
        return;
    }
    if (m->frames != 3) {
        log_foreign(ch, "CMD that is not [\"CMD\", id, json]");
        answer(ch, id, so_command_result(id, false, false, "a command is 3 frames: "
                                         "[\"CMD\", id, json]"));
        return;
    }
    atomic_fetch_add(&ch->n_commands, 1);
    answer(ch, id, ch->on_command
                       ? ch->on_command(ch->command_opaque, id, zmq_msg_data(&m->part[2]),
                                        zmq_msg_size(&m->part[2]))
                       : so_command_result(id, false, false, "this detector takes no commands"));
}

/* Read one whole message (false when there was none). */
static bool receive(struct so_channel *ch, struct message *m)
{
    m->n = m->frames = 0;
    for (int more = 1; more;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, ch->dealer, m->frames ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return m->frames > 0;
        }
        more = zmq_msg_more(&part);
        m->frames++;
        if (m->n < MAX_FRAMES) {
            m->part[m->n++] = part;     /* moved: closed by the caller */
        } else {
            zmq_msg_close(&part);
        }
    }
    return true;
}

static void handle_reply(struct so_channel *ch)
{
    struct message m;
    if (!receive(ch, &m)) {
        return;
    }
    if (m.frames == 2 && frame_is(&m, 0, "ACK")) {
        handle_ack(ch, zmq_msg_data(&m.part[1]), zmq_msg_size(&m.part[1]));
    } else if (frame_is(&m, 0, "CMD")) {
        handle_command(ch, &m);
    } else {
        char what[64];
        snprintf(what, sizeof(what), "%d frame%s", m.frames, m.frames == 1 ? "" : "s");
        log_foreign(ch, what);
    }
    for (int i = 0; i < m.n; i++) {
        zmq_msg_close(&m.part[i]);
    }
}

/* [ "HELO", detector_id ] on a new connection: the platform learns which connection is this
 * detector before it has delivered anything, so that it can command a quiet detector (a permit
 * for tomorrow's market). Best effort: the next record says the same. */
static void say_hello(struct so_channel *ch)
{
    if (ch->detector_id && (zmq_send(ch->dealer, "HELO", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                            zmq_send(ch->dealer, ch->detector_id, strlen(ch->detector_id),
                                     ZMQ_DONTWAIT) < 0)) {
        so_debug(WHO, "HELO not sent: %s", zmq_strerror(zmq_errno()));
    }
}

/* Handle one monitor event; false when there was none. */
static bool handle_monitor(struct so_channel *ch)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, ch->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&event, zmq_msg_data(&m), 2);
    }
    bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) {   /* the endpoint frame */
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, ch->monitor, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        so_info(WHO, "connected to %s: %zu event%s pending", ch->endpoint,
                so_outbox_pending(ch->outbox), so_outbox_pending(ch->outbox) == 1 ? "" : "s");
        ch->connected = true;
        for (int i = 0; i < ch->n_flights; i++) {
            ch->flights[i].deadline = 0;    /* the old connection may have lost them */
        }
        say_hello(ch);
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (ch->connected) {
            so_warn(WHO, "disconnected from %s: reconnecting", ch->endpoint);
        }
        ch->connected = false;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        so_err(WHO, "handshake with %s failed (wrong CURVE keys, or not a streetorder "
               "intake?): nothing is delivered until it succeeds", ch->endpoint);
        break;
    default:
        break;
    }
    return true;
}

static void *thread_main(void *arg)
{
    struct so_channel *ch = arg;
    zmq_pollitem_t items[3] = {
        {.socket = ch->dealer, .events = ZMQ_POLLIN},
        {.socket = ch->monitor, .events = ZMQ_POLLIN},
        {.fd = ch->wake_rd, .events = ZMQ_POLLIN},
    };
    while (!atomic_load(&ch->stop)) {
        /* Connection news first: after a reconnection the in-flight records must go out
         * again, in order, before any new one. Send only while connected. */
        while (handle_monitor(ch)) {
        }
        if (ch->connected && resend_due(ch)) {
            fill_window(ch);
        }
        long timeout_ms = 500;
        double now = so_time_mono();
        for (int i = 0; ch->connected && i < ch->n_flights; i++) {
            long t = (long)((ch->flights[i].deadline - now) * 1000) + 1;
            if (t < timeout_ms) {
                timeout_ms = t < 1 ? 1 : t;
            }
        }
        if (zmq_poll(items, 3, timeout_ms) < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            so_err(WHO, "poll: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            char buf[256];
            while (read(ch->wake_rd, buf, sizeof(buf)) > 0) {
            }
        }
        for (int k = 0; k < 1000 && (items[0].revents & ZMQ_POLLIN); k++) {
            int events = 0;
            size_t sz = sizeof(events);
            zmq_getsockopt(ch->dealer, ZMQ_EVENTS, &events, &sz);
            if (!(events & ZMQ_POLLIN)) {
                break;
            }
            handle_reply(ch);
        }
    }
    return NULL;
}

static bool set_opt(void *s, int opt, const void *v, size_t sz, const char *name)
{
    if (zmq_setsockopt(s, opt, v, sz) != 0) {
        so_err(WHO, "cannot set %s: %s", name, zmq_strerror(zmq_errno()));
        return false;
    }
    return true;
}

/* The DEALER's options: no linger, no queueing while unconnected, reconnect backoff, CURVE. */
static bool dealer_options(void *dealer, const struct so_channel_opts *opts)
{
    int zero = 0, one = 1, ivl = 100, ivl_max = 5000, hwm = 4 * WINDOW;
    bool ok = set_opt(dealer, ZMQ_LINGER, &zero, sizeof(zero), "linger") &&
              set_opt(dealer, ZMQ_IMMEDIATE, &one, sizeof(one), "immediate") &&
              set_opt(dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl), "reconnect_ivl") &&
              set_opt(dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max),
                      "reconnect_ivl_max") &&
              set_opt(dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm), "sndhwm");
    if (ok && opts->server_key) {
        ok = set_opt(dealer, ZMQ_CURVE_SERVERKEY, opts->server_key, 40, "CURVE server key") &&
             set_opt(dealer, ZMQ_CURVE_PUBLICKEY, opts->public_key, 40, "CURVE public key") &&
             set_opt(dealer, ZMQ_CURVE_SECRETKEY, opts->secret_key, 40, "CURVE secret key");
    }
    return ok;
}

void so_channel_notify(struct so_channel *ch, uint64_t seq)
{
    if (!ch) {
        return;
    }
    atomic_store(&ch->appended, seq);
    char b = 1;
    ssize_t n = write(ch->wake_wr, &b, 1);    /* a full pipe already means "wake up" */
    (void)n;
}

size_t so_channel_drain(struct so_channel *ch, double timeout_s)
{
    if (!ch) {
        return 0;
    }
    double end = so_time_mono() + timeout_s;
    pthread_mutex_lock(&ch->lock);
    size_t pending;
    while ((pending = so_outbox_pending(ch->outbox)) > 0) {
        double left = end - so_time_mono();
        if (left <= 0) {
            break;
        }
        if (left > 0.2) {
            left = 0.2;
        }
        struct timespec ts = so_time_timespec(so_time_wall() + left);   /* `acked`: REALTIME */
        pthread_cond_timedwait(&ch->acked, &ch->lock, &ts);
    }
    pthread_mutex_unlock(&ch->lock);
    return pending;
}

void so_channel_destroy(struct so_channel *ch)
{
    if (!ch) {
        return;
    }
    if (ch->thread_started) {
        atomic_store(&ch->stop, true);
        so_channel_notify(ch, atomic_load(&ch->appended));
        pthread_join(ch->thread, NULL);
    }
    if (ch->dealer) {
        zmq_socket_monitor(ch->dealer, NULL, 0);
        zmq_close(ch->dealer);
    }
    if (ch->monitor) {
        zmq_close(ch->monitor);
    }
    if (ch->zctx) {
        zmq_ctx_term(ch->zctx);
    }
    if (ch->wake_rd >= 0) {
        close(ch->wake_rd);
    }
    if (ch->wake_wr >= 0) {
        close(ch->wake_wr);
    }
    pthread_mutex_destroy(&ch->lock);
    pthread_cond_destroy(&ch->acked);
    free(ch->endpoint);
    free(ch->detector_id);
    free(ch);
}

struct so_channel *so_channel_create(const struct so_channel_opts *opts)
{
    struct so_channel *ch = calloc(1, sizeof(*ch));
    if (!ch) {
        return NULL;
    }
    ch->outbox = opts->outbox;
    ch->endpoint = strdup(opts->endpoint);
    ch->detector_id = opts->detector_id ? strdup(opts->detector_id) : NULL;
    ch->resend_s = opts->resend_s > 0 ? opts->resend_s : 5.0;
    ch->on_ack = opts->on_ack;
    ch->opaque = opts->opaque;
    ch->on_command = opts->on_command;
    ch->command_opaque = opts->command_opaque;
    ch->wake_rd = ch->wake_wr = -1;
    atomic_init(&ch->stop, false);
    atomic_init(&ch->appended, so_outbox_last_seq(opts->outbox));
    atomic_init(&ch->n_sent, 0);
    atomic_init(&ch->n_resent, 0);
    atomic_init(&ch->n_acked, 0);
    atomic_init(&ch->n_commands, 0);
    atomic_init(&ch->n_garbage, 0);
    atomic_init(&ch->last_ack_ms, 0);
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->acked, NULL);
    ch->sent_upto = so_outbox_acked(opts->outbox);

    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        so_err(WHO, "pipe: %s", strerror(errno));
        goto fail;
    }
    ch->wake_rd = fds[0];
    ch->wake_wr = fds[1];
    ch->zctx = zmq_ctx_new();
    ch->dealer = ch->zctx ? zmq_socket(ch->zctx, ZMQ_DEALER) : NULL;
    if (!ch->dealer) {
        so_err(WHO, "cannot create the DEALER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    int zero = 0;
    if (!dealer_options(ch->dealer, opts)) {
        goto fail;
    }
    char mon[64];
    snprintf(mon, sizeof(mon), "inproc://so-deliver-monitor-%p", (void *)ch);
    if (zmq_socket_monitor(ch->dealer, mon,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        !(ch->monitor = zmq_socket(ch->zctx, ZMQ_PAIR)) ||
        !set_opt(ch->monitor, ZMQ_LINGER, &zero, sizeof(zero), "linger") ||
        zmq_connect(ch->monitor, mon) != 0) {
        so_err(WHO, "cannot monitor the DEALER socket: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_connect(ch->dealer, opts->endpoint) != 0) {
        so_err(WHO, "cannot connect to %s: %s", opts->endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (pthread_create(&ch->thread, NULL, thread_main, ch) != 0) {
        so_err(WHO, "cannot start the delivery thread");
        goto fail;
    }
    ch->thread_started = true;
    so_info(WHO, "delivering to %s%s; %zu event%s pending in the outbox", ch->endpoint,
            opts->server_key ? " (CURVE)" : "", so_outbox_pending(ch->outbox),
            so_outbox_pending(ch->outbox) == 1 ? "" : "s");
    return ch;
fail:
    so_channel_destroy(ch);
    return NULL;
}

void so_channel_get_stats(struct so_channel *ch, struct so_channel_stats *out)
{
    *out = (struct so_channel_stats){0};
    if (!ch) {
        return;
    }
    out->sent = atomic_load(&ch->n_sent);
    out->resent = atomic_load(&ch->n_resent);
    out->acked = atomic_load(&ch->n_acked);
    out->commands = atomic_load(&ch->n_commands);
    out->garbage = atomic_load(&ch->n_garbage);
    out->last_ack_wall = (double)atomic_load(&ch->last_ack_ms) / 1000;
}
