/*
 * Outputs: the one thread that does the I/O of events and health records, so analysis never
 * waits on a disk or a socket. It numbers events (`seq`, per detector, monotonic across
 * restarts through <state_dir>/seq), writes evidence JPEGs, appends each record as one line in a
 * single write(2) to the `--events` file and the configured JSONL file, publishes on the
 * ZeroMQ PUB live feed, and prints one human line per event on stdout. With
 * outputs.deliver.endpoint it also owns the outbox journal (appends and fsyncs, before any
 * other output of the event) and the delivery channel's thread (detector/delivery/).
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

struct so_outputs_opts {
    const struct so_config *config;     /* borrowed for the lifetime of the outputs */
    const char *events_path;            /* --events: created/truncated now; NULL = none */
    bool console;                       /* print a human line per event on stdout */
};

/*
 * Create folders and files, bind the PUB socket, start the thread. Returns NULL after logging
 * the reason (unwritable state dir or file, endpoint that cannot be bound).
 */
struct so_outputs *so_outputs_create(const struct so_outputs_opts *opts);

/* Queue an event for output; the outputs take ownership of `ev` in every case. */
void so_outputs_submit(struct so_outputs *o, struct so_event *ev);

/* Queue a camera health record (PUB topic health.<camera_id> and a log line; never in the
 * events files). */
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

/* Reliable delivery at a glance (for /metrics). All zero, enabled false, without
 * outputs.deliver.endpoint. */
struct so_delivery_stats {
    bool enabled;
    size_t pending;             /* outbox depth: records not acknowledged yet */
    double oldest_age_s;        /* age of the oldest of them, 0 when none */
    uint64_t outbox_bytes;      /* size of the segment files */
    uint64_t sent, resent, acked;   /* since start (delivery/channel.h) */
};

/* Any thread, while the outputs exist. Accepts NULL (all zero). */
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

/* mkdir -p. Returns 0 or a negative errno. */
int so_mkdirs(const char *path);

#endif
