/*
 * Channel: the reliable delivery of journalled events to the case platform (ARCHITECTURE
 * "Delivery (contract)"): a ZeroMQ DEALER connected to the platform's ROUTER sends
 * [ "SOE1", seq, json, jpeg... ] for every record of the outbox and expects [ "ACK", seq ];
 * acknowledged records are released from the outbox. Unacknowledged ones are resent after a
 * timeout (doubling up to 60 s), at once after a reconnect, and first thing after a restart.
 *
 * The platform may also command the detector on the same connection (docs/delivery.md
 * "Commands"): [ "CMD", id, json ] is handed to opts.on_command on the channel thread and its
 * answer goes back at once as [ "CRES", id, json ]. Only the connected platform can command:
 * it is the DEALER's only peer (with CURVE, the server key authenticates it).
 *
 * Threads: the channel runs one thread of its own, which owns the DEALER (and its monitor
 * socket). so_channel_notify() and so_channel_drain() may be called from any thread;
 * create/destroy from the owning thread.
 *
 * Ownership: the outbox is borrowed and must outlive the channel.
 */
#ifndef SO_DELIVERY_CHANNEL_H
#define SO_DELIVERY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

#define SO_PROTOCOL "SOE1"

struct so_channel_opts {
    const char *endpoint;       /* the platform's ROUTER, e.g. tcp://platform:5560 */
    const char *detector_id;    /* said in [ "HELO", detector_id ] on every connection (may be
                                 * NULL: nothing said) */
    struct so_outbox *outbox;   /* borrowed */
    double resend_s;            /* first resend timeout; 0 = 5 s */
    /* CURVE, Z85 keys; all NULL = plain. */
    const char *server_key, *public_key, *secret_key;
    /* Called on the channel thread after each acknowledgement has been recorded (may be
     * NULL): for metrics and the benchmark. so_channel_drain() returns only after it; it must
     * not call back into the channel. */
    void (*on_ack)(void *opaque, uint64_t seq);
    void *opaque;
    /* Called on the channel thread for each [ "CMD", id, json ] whose id is valid
     * (command.h); returns the answer's JSON (malloc()ed, sent as [ "CRES", id, json ]), or
     * NULL for no answer. It must not block for long (a journal fsync is the most). NULL:
     * every command is answered ok:false. */
    char *(*on_command)(void *opaque, const char *id, const char *json, size_t len);
    void *command_opaque;
};

/* Connect (asynchronously) and start the thread. NULL after logging the reason. */
struct so_channel *so_channel_create(const struct so_channel_opts *opts);

/* Tell the channel that records up to `seq` are in the outbox. Never blocks. Any thread. */
void so_channel_notify(struct so_channel *ch, uint64_t seq);

/*
 * Wait up to `timeout_s` until nothing appended is left unacknowledged. Returns the number of
 * records still pending (0 = all delivered). Any thread.
 */
size_t so_channel_drain(struct so_channel *ch, double timeout_s);

/* Counters since create (for /metrics): records sent for the first time, resent after a
 * timeout, and acknowledged (first acknowledgement of a pending record only), and when the
 * last acknowledgement came. */
struct so_channel_stats {
    uint64_t sent, resent, acked;
    uint64_t commands;          /* [ "CMD", id, json ] with a valid id, handed on */
    uint64_t garbage;           /* messages ignored: neither a valid ACK nor a valid CMD */
    double last_ack_wall;       /* wall time of the last acknowledgement; 0 before one */
};

/* Any thread; all zero for NULL. */
void so_channel_get_stats(struct so_channel *ch, struct so_channel_stats *out);

/* Stop the thread at once (no drain; unacknowledged records stay in the outbox) and close
 * the socket. Accepts NULL. */
void so_channel_destroy(struct so_channel *ch);

#endif
