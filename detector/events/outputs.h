/*
 * Outputs: the one thread that does the I/O of events and health records, so analysis never
 * waits on a disk or a socket. It numbers events (`seq`, per detector, monotonic across
 * restarts through <state_dir>/seq), writes evidence JPEGs, appends each record as one line in a
 * single write(2) to the `--events` file and the configured JSONL file, publishes on the
 * ZeroMQ PUB live feed, and prints one human line per event on stdout.
 *
 * Thread-safety: so_outputs_submit() and so_outputs_health() may be called from any thread.
 * create/destroy from the owning (main) thread.
 */
#ifndef SO_EVENTS_OUTPUTS_H
#define SO_EVENTS_OUTPUTS_H

#include <stdbool.h>

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

/* Number of events written so far (any thread). */
unsigned long so_outputs_count(struct so_outputs *o);

/* Write everything queued, stop the thread, close files and sockets. Accepts NULL. */
void so_outputs_destroy(struct so_outputs *o);

/* Resolve a configured output path: absolute paths as they are, relative ones under
 * state_dir. Returns a malloc()ed string. */
char *so_outputs_resolve(const struct so_config *cfg, const char *path);

/* mkdir -p. Returns 0 or a negative errno. */
int so_mkdirs(const char *path);

#endif
