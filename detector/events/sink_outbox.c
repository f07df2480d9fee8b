/*
 * Why this file exists: with reliable delivery on, an event must be in the crash-safe journal
 * before anyone else sees it (the `--events` line, the live feed), so that whatever was
 * written anywhere can still reach the platform after a crash. This is the outputs' side of
 * that contract: append, wake the channel, and make a refused append loud.
 *
 * Metrics without waiting: the outbox guards its index with one mutex that an append holds
 * through its fdatasync (milliseconds, seconds on a sick disk). /metrics must never queue
 * behind that, so the pending count, the oldest record's time and the journal size are copied
 * into atomics by the threads that change them (the outputs thread after an append, the
 * channel thread after an acknowledgement); readers load the atomics. `refresh` serialises
 * the two writers so a stale copy never overwrites a newer one.
 */
#include "sink_outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "log.h"
#include "outbox.h"
#include "timeutil.h"

struct so_sink_outbox {
    struct so_outbox *outbox;
    struct so_channel *channel;
    atomic_ulong lost;                  /* events that could not be journalled */
    pthread_mutex_t refresh;            /* serialises refresh_figures(); never held by readers */
    atomic_size_t pending;              /* copies for readers that must not wait */
    _Atomic double oldest_wall;         /* wall time the oldest pending record was added */
    _Atomic uint64_t bytes;
};

/* Copy the outbox's figures into the atomics (may wait behind an fsync: writers only). */
static void refresh_figures(struct so_sink_outbox *s)
{
    pthread_mutex_lock(&s->refresh);
    size_t pending = so_outbox_pending(s->outbox);
    double age = so_outbox_oldest_age(s->outbox);
    uint64_t bytes = so_outbox_bytes(s->outbox);
    atomic_store(&s->oldest_wall, so_time_wall() - age);
    atomic_store(&s->bytes, bytes);
    atomic_store(&s->pending, pending);
    pthread_mutex_unlock(&s->refresh);
}

static void on_ack(void *opaque, uint64_t seq)
{
    (void)seq;
    refresh_figures(opaque);
}

void so_sink_outbox_destroy(struct so_sink_outbox *s)
{
    if (!s) {
        return;
    }
    so_channel_destroy(s->channel);
    if (s->outbox) {
        size_t pending = so_outbox_pending(s->outbox);
        if (pending) {
            so_info("outputs", "%zu event%s unacknowledged, kept in the outbox", pending,
                    pending == 1 ? "" : "s");
        }
        so_outbox_close(s->outbox);
    }
    pthread_mutex_destroy(&s->refresh);
    free(s);
}

struct so_sink_outbox *so_sink_outbox_create(const struct so_config *cfg,
                                             unsigned long long *seq,
                                             char *(*on_command)(void *opaque, const char *id,
                                                                 const char *json, size_t len),
                                             void *command_opaque)
{
    struct so_sink_outbox *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    pthread_mutex_init(&s->refresh, NULL);
    atomic_init(&s->lost, 0);
    atomic_init(&s->pending, 0);
    atomic_init(&s->oldest_wall, 0.0);
    atomic_init(&s->bytes, 0);
    char *dir = so_outputs_resolve(cfg, "outbox");
    struct so_outbox_opts bo = {
        .dir = dir,
        .quota_bytes = (uint64_t)(cfg->deliver.quota_mb * 1024 * 1024),
        .fsync = cfg->deliver.fsync,
    };
    s->outbox = so_outbox_open(&bo);
    free(dir);
    if (!s->outbox) {
        goto fail;
    }
    /* The journal is the source of truth for numbering; the seq file also covers events
     * that could not be journalled. */
    unsigned long long last = so_outbox_last_seq(s->outbox);
    if (last > *seq) {
        *seq = last;
    }
    refresh_figures(s);     /* before the channel thread can acknowledge anything */
    struct so_channel_opts co = {
        .endpoint = cfg->deliver.endpoint,
        .detector_id = cfg->detector_id,
        .outbox = s->outbox,
        .resend_s = cfg->deliver.resend_s,
        .server_key = cfg->deliver.server_key,
        .public_key = cfg->deliver.public_key,
        .secret_key = cfg->deliver.secret_key,
        .on_ack = on_ack,
        .opaque = s,
        .on_command = on_command,
        .command_opaque = command_opaque,
    };
    s->channel = so_channel_create(&co);
    if (!s->channel) {
        goto fail;
    }
    return s;
fail:
    so_sink_outbox_destroy(s);
    return NULL;
}

/*
 * Append the event to the outbox (and so, with the default policy, fsync it) before it goes
 * anywhere else, then wake the delivery thread. When the journal refuses it (quota, full disk)
 * the event still goes to the JSONL files and the live feed, but it will never reach the
 * platform: say so loudly and count it.
 */
void so_sink_outbox_append(struct so_sink_outbox *s, unsigned long long seq,
                           const struct so_event *ev, const char *json, size_t len)
{
    struct so_outbox_part parts[SO_EVENT_MAX_EVIDENCE];
    for (int i = 0; i < ev->n_evidence; i++) {
        parts[i] = (struct so_outbox_part){ev->evidence[i].jpeg, ev->evidence[i].size};
    }
    int rc = so_outbox_append(s->outbox, seq, json, len, parts, ev->n_evidence);
    if (rc == 0) {
        so_channel_notify(s->channel, seq);
        refresh_figures(s);
        return;
    }
    unsigned long lost = atomic_fetch_add(&s->lost, 1) + 1;
    const char *why = rc == -EDQUOT ? "the outbox quota (outputs.deliver.quota_mb) is full"
                      : rc == -ENOSPC ? "the disk is full"
                                      : strerror(-rc);
    so_err("outputs", "DELIVERY LOSS: event seq %llu (%s) not journalled: %s; it is written to "
           "the JSONL files and the live feed but will NOT be delivered to the platform "
           "(%lu lost to delivery so far; %zu events wait for the platform)", seq,
           ev->event_id, why, lost, so_outbox_pending(s->outbox));
}

unsigned long so_sink_outbox_lost(struct so_sink_outbox *s)
{
    return s ? atomic_load(&s->lost) : 0;
}

void so_sink_outbox_stats(struct so_sink_outbox *s, struct so_delivery_stats *out)
{
    out->enabled = true;
    out->pending = atomic_load(&s->pending);
    double age = so_time_wall() - atomic_load(&s->oldest_wall);
    out->oldest_age_s = out->pending && age > 0 ? age : 0;
    out->outbox_bytes = atomic_load(&s->bytes);
    struct so_channel_stats cs;
    so_channel_get_stats(s->channel, &cs);
    out->sent = cs.sent;
    out->resent = cs.resent;
    out->acked = cs.acked;
    out->commands = cs.commands;
    out->garbage = cs.garbage;
    out->last_ack_wall = cs.last_ack_wall;
}

size_t so_sink_outbox_drain(struct so_sink_outbox *s, double seconds,
                            bool (*go_on)(void *opaque), void *opaque)
{
    size_t pending = so_outbox_pending(s->outbox);
    if (pending == 0) {
        return 0;
    }
    so_info("outputs", "waiting up to %g s for the platform to acknowledge %zu event%s",
            seconds, pending, pending == 1 ? "" : "s");
    double left = seconds;
    do {
        double step = left < 0.2 ? left : 0.2;
        pending = so_channel_drain(s->channel, step);
        left -= step;
    } while (pending && left > 0 && (!go_on || go_on(opaque)));
    if (pending) {
        so_warn("outputs", "%zu event%s still unacknowledged: kept in the outbox, resent first "
                "at the next start", pending, pending == 1 ? "" : "s");
    } else {
        so_info("outputs", "every event acknowledged by the platform");
    }
    return pending;
}
