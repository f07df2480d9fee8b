/*
 * Outputs: the one thread that does the I/O of events and health records, so analysis never
 * waits on a disk or a socket. It numbers events (`seq`, per detector, monotonic across
 * restarts through <state_dir>/seq) and hands each to its sinks, in this order: evidence JPEGs
 * (sink_files.h), with outputs.deliver.endpoint the outbox journal (append and fsync) and the
 * delivery channel's thread (sink_outbox.h, detector/delivery/), one line in a single write(2)
 * to the `--events` file and the configured JSONL file (sink_files.h), the ZeroMQ PUB live feed
 * (sink_pub.h), the seq file, one human line on stdout (sink_console.h).
 *
 * The queue holds at most SO_OUTPUTS_QUEUE_MAX events (see so_outputs_submit()).
 *
 * Thread-safety: so_outputs_submit() and so_outputs_health() may be called from any thread.
 * create/destroy from the owning (main) thread.
 */
#ifndef SO_EVENTS_OUTPUTS_H
#define SO_EVENTS_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

/* Events queued for the outputs thread at most: hours of events of a busy detector, so only
 * a stalled disk fills it; the memory is the events' JPEGs (~100-300 KB each). */
#define SO_OUTPUTS_QUEUE_MAX 4096

struct so_outputs_opts {
    const struct so_config *config;     /* borrowed for the lifetime of the outputs */
    const char *events_path;            /* --events: created/truncated now; NULL = none */
    bool console;                       /* print a human line per event on stdout */
    bool wait_when_full;                /* a full queue makes so_outputs_submit() wait (file
                                           runs with --fast) instead of dropping (live) */
    size_t queue_max;                   /* 0 = SO_OUTPUTS_QUEUE_MAX (tests set small ones) */
    /* Commands from the platform on the delivery channel (delivery/channel.h: called on the
     * channel thread); NULL: every command is answered ok:false. */
    char *(*on_command)(void *opaque, const char *id, const char *json, size_t len);
    void *command_opaque;
};

/*
 * Create folders and files, bind the PUB socket, start the thread. Returns NULL after logging
 * the reason (unwritable state dir or file, endpoint that cannot be bound).
 */
struct so_outputs *so_outputs_create(const struct so_outputs_opts *opts);

/*
 * Queue an event for output; the outputs take ownership of `ev` in every case. When the queue
 * already holds queue_max events the call waits for room with opts.wait_when_full, else the
 * event is dropped: destroyed, counted (so_outputs_dropped) and logged (rate-limited). Never
 * waits on disk or network otherwise.
 */
void so_outputs_submit(struct so_outputs *o, struct so_event *ev);

/* Queue a camera health record (PUB topic health.<camera_id>; never in the events files).
 * Not subject to the bound: a few per camera and state change. */
void so_outputs_health(struct so_outputs *o, const char *camera_id, const char *health,
                       const char *detail);

/*
 * Decode-to-event latency: from the moment the frame that decided an event was decoded (and
 * due) to the moment the event was written everywhere (outbox, files, live feed). Percentiles
 * over the last SO_LATENCY_WINDOW events, in seconds; n = events measured in all. Any thread.
 */
#define SO_LATENCY_WINDOW 4096
struct so_latency_stats {
    unsigned long n;
    double p50, p99, max;
    double sum;             /* of all n, seconds */
};
void so_outputs_latency(struct so_outputs *o, struct so_latency_stats *out);

/* Number of events written so far (any thread). */
unsigned long so_outputs_count(struct so_outputs *o);

/* Number of events that could not be journalled in the outbox (quota or disk full): they
 * were written to the JSONL files and the live feed but will not reach the platform. */
unsigned long so_outputs_lost(struct so_outputs *o);

/* Events dropped because the queue was full (any thread; 0 for NULL). */
unsigned long so_outputs_dropped(struct so_outputs *o);

/* Events waiting in the queue now (any thread; takes the queue mutex for an instant). */
size_t so_outputs_queued(struct so_outputs *o);

/* Reliable delivery at a glance (for /metrics). All zero, enabled false, without
 * outputs.deliver.endpoint. */
struct so_delivery_stats {
    bool enabled;
    size_t pending;             /* outbox depth: records not acknowledged yet */
    double oldest_age_s;        /* age of the oldest of them, 0 when none */
    uint64_t outbox_bytes;      /* size of the segment files */
    uint64_t sent, resent, acked;   /* since start (delivery/channel.h) */
    uint64_t commands, garbage;     /* commands handed on; messages ignored as garbage */
    double last_ack_wall;           /* wall time of the last acknowledgement, 0 before one */
};

/* Any thread, while the outputs exist; never waits behind the outbox's fsync (the figures are
 * atomics, see sink_outbox.c). Accepts NULL (all zero). */
void so_outputs_delivery_stats(struct so_outputs *o, struct so_delivery_stats *out);

/*
 * At the end of file inputs: wait until every queued event is journalled, then up to
 * `seconds` for the platform to acknowledge them all. `go_on` (may be NULL) is asked every
 * 200 ms whether to keep waiting (e.g. false once a stop signal arrived). Returns the number
 * still pending (they stay in the outbox and are resent first at the next start); 0 without
 * reliable delivery. Call from the owning thread, after the producers have stopped. Accepts
 * NULL.
 */
size_t so_outputs_drain(struct so_outputs *o, double seconds, bool (*go_on)(void *opaque),
                        void *opaque);

/* Write everything queued, stop the thread, close files and sockets. The delivery thread stops
 * at once: unacknowledged events stay in the outbox. Accepts NULL. */
void so_outputs_destroy(struct so_outputs *o);

/* Resolve a configured output path: absolute paths as they are, relative ones under
 * state_dir. Returns a malloc()ed string. */
char *so_outputs_resolve(const struct so_config *cfg, const char *path);

#endif
