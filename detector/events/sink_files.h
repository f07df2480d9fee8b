/*
 * Files sink of the outputs (events/outputs.c): the evidence JPEGs under the evidence folder,
 * one line per record appended to the `--events` file and the configured JSONL file, and the
 * `seq` file that keeps the event numbering monotonic across restarts.
 *
 * Thread-safety: none; used by the outputs thread only (create/destroy by the owner of the
 * outputs). Errors are logged here, once, with the path.
 */
#ifndef SO_EVENTS_SINK_FILES_H
#define SO_EVENTS_SINK_FILES_H

#include <stddef.h>

#include "config.h"
#include "event.h"

/*
 * Create the state and evidence folders. Returns NULL after logging the reason. `cfg` is
 * borrowed for the lifetime of the sink.
 */
struct so_sink_files *so_sink_files_create(const struct so_config *cfg);

/*
 * Open the `--events` file (`events_path`, truncated; NULL = none) and cfg->jsonl (appended;
 * NULL = none). A second step so that a failure earlier in the outputs' start (the outbox)
 * leaves an existing `--events` file untouched. Returns 0 or -1 after logging the reason.
 */
int so_sink_files_open(struct so_sink_files *f, const struct so_config *cfg,
                       const char *events_path);

/* Close the files. Accepts NULL. */
void so_sink_files_destroy(struct so_sink_files *f);

/* Write the event's evidence JPEGs (one file each, replaced if present). */
void so_sink_files_evidence(struct so_sink_files *f, const struct so_event *ev);

/* Append `line` (a record followed by '\n') to the `--events` file, then to the JSONL file,
 * each in one write(2) so a crash never leaves half a record. */
void so_sink_files_line(struct so_sink_files *f, const char *line, size_t len);

/* The last seq written according to <state_dir>/seq (0 when missing or unreadable). */
unsigned long long so_sink_files_seq_load(const struct so_sink_files *f);

/* Replace <state_dir>/seq with `seq` (write seq.tmp, rename; errors ignored: the outbox is the
 * source of truth for numbering when delivery is on, see docs/delivery.md). */
void so_sink_files_seq_save(const struct so_sink_files *f, unsigned long long seq);

#endif
