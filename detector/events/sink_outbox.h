/*
 * Outbox hand-off of the outputs (events/outputs.c), with outputs.deliver.endpoint: the
 * outbox journal (delivery/outbox.h) and the delivery channel's thread (delivery/channel.h).
 * Each event is appended (and, by default, fsynced) before it goes anywhere else, then the
 * channel is woken.
 *
 * Threads: so_sink_outbox_append() from the outputs thread only; so_sink_outbox_stats() and
 * so_sink_outbox_lost() from any thread, and they never wait on the outbox mutex (held through
 * fsyncs): the figures are atomics refreshed by the outputs thread after each append and by
 * the channel thread after each acknowledgement. create/drain/destroy from the owner of the
 * outputs.
 */
#ifndef SO_EVENTS_SINK_OUTBOX_H
#define SO_EVENTS_SINK_OUTBOX_H

#include <stddef.h>

#include "config.h"
#include "event.h"
#include "outputs.h"

/*
 * Open (recover) <state_dir>/outbox and start the channel to cfg->deliver.endpoint. `*seq` is
 * raised to the journal's last seq when that is higher (the journal is the source of truth for
 * numbering). `on_command` and its opaque go to the channel (delivery/channel.h; may be
 * NULL). Returns NULL after logging the reason.
 */
struct so_sink_outbox *so_sink_outbox_create(const struct so_config *cfg,
                                             unsigned long long *seq,
                                             char *(*on_command)(void *opaque, const char *id,
                                                                 const char *json, size_t len),
                                             void *command_opaque);

/* Stop the channel at once (unacknowledged records stay in the journal, with a log line
 * saying how many) and close the journal. Accepts NULL. */
void so_sink_outbox_destroy(struct so_sink_outbox *s);

/*
 * Journal the event `seq` (its record serialised as json[0..len)) with its evidence as parts,
 * then wake the channel. When the journal refuses it (quota, full disk) the loss is logged
 * loudly and counted (so_sink_outbox_lost); the caller writes the other outputs regardless.
 */
void so_sink_outbox_append(struct so_sink_outbox *s, unsigned long long seq,
                           const struct so_event *ev, const char *json, size_t len);

/* Events that could not be journalled. Any thread. */
unsigned long so_sink_outbox_lost(struct so_sink_outbox *s);

/* Delivery figures for /metrics (enabled true). Any thread; never blocks. */
void so_sink_outbox_stats(struct so_sink_outbox *s, struct so_delivery_stats *out);

/* so_outputs_drain()'s second half: wait up to `seconds` for acknowledgements (see there).
 * Returns the number still pending. */
size_t so_sink_outbox_drain(struct so_sink_outbox *s, double seconds,
                            bool (*go_on)(void *opaque), void *opaque);

#endif
