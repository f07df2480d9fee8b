/*
 * Outbox: the crash-safe on-disk journal of events waiting for the platform's acknowledgement
 * (ARCHITECTURE "Delivery"; format and policy in docs/delivery.md).
 *
 * Layout: <dir>/seg-<first seq, 20 digits>.soj segment files of records
 *   [magic "SOJ1", u32 payload length, u32 crc32(seq + payload), u64 seq, payload]
 *   payload = [u32 json length, json, u32 part count, (u32 part length, part bytes)...]
 * all little-endian, and <dir>/acked, the acknowledged-sequence cursor (decimal text): every
 * record with seq <= cursor has been acknowledged.
 *
 * Threads: every function may be called from any thread (one mutex inside). In the detector
 * the outputs thread appends (and fsyncs) and the delivery thread reads and acknowledges.
 *
 * Errors: negative errno codes. -EDQUOT when the quota would be exceeded, -ENOSPC when the
 * disk is full; either way the journal is left exactly as before the call (a failed write is
 * truncated away) and the record is not in it.
 */
#ifndef SO_DELIVERY_OUTBOX_H
#define SO_DELIVERY_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SO_OUTBOX_MAGIC "SOJ1"
#define SO_OUTBOX_HEADER 20             /* magic, length, crc, seq */
#define SO_OUTBOX_MAX_PARTS 16
#define SO_OUTBOX_MAX_RECORD (64u << 20) /* larger lengths are corruption */

struct so_outbox_opts {
    const char *dir;            /* created if missing */
    uint64_t quota_bytes;       /* total size of the segment files; 0 = unlimited */
    uint64_t segment_bytes;     /* roll to a new segment past this size; 0 = 4 MiB. Capped at
                                   a quarter of the quota */
    bool fsync;                 /* fdatasync after every append (the default policy) */
};

struct so_outbox_part {
    const uint8_t *data;
    size_t size;
};

/* A record read back. Pointers refer into `buf`, owned by the record. */
struct so_outbox_record {
    uint64_t seq;
    const char *json;           /* not NUL-terminated by the format; read() adds a NUL */
    size_t json_len;
    int n_parts;
    struct so_outbox_part parts[SO_OUTBOX_MAX_PARTS];
    uint8_t *buf;
};

/*
 * Open (create) the journal in opts->dir and recover it: torn or corrupt tails are truncated
 * with a log line, acknowledged segments deleted. Returns NULL after logging the reason.
 */
struct so_outbox *so_outbox_open(const struct so_outbox_opts *opts);

/* Close. Accepts NULL. */
void so_outbox_close(struct so_outbox *o);

/* Highest seq ever appended or acknowledged (0 for a new journal). */
uint64_t so_outbox_last_seq(struct so_outbox *o);

/* The acknowledged-sequence cursor. */
uint64_t so_outbox_acked(struct so_outbox *o);

/* Number of records not acknowledged yet; bytes of the segment files. */
size_t so_outbox_pending(struct so_outbox *o);
uint64_t so_outbox_bytes(struct so_outbox *o);

/* Seconds since the oldest unacknowledged record was appended (0 when none is pending). */
double so_outbox_oldest_age(struct so_outbox *o);

/*
 * Append a record. `seq` must be greater than so_outbox_last_seq() (-EINVAL otherwise).
 * Durable when it returns 0 if opts.fsync. Errors: -EDQUOT, -ENOSPC, -EIO, -EINVAL; the
 * journal is unchanged on error.
 */
int so_outbox_append(struct so_outbox *o, uint64_t seq, const char *json, size_t json_len,
                     const struct so_outbox_part *parts, int n_parts);

/* The first unacknowledged seq greater than `after`, or 0 if there is none. */
uint64_t so_outbox_next(struct so_outbox *o, uint64_t after);

/*
 * Read the record `seq` into `out` (release with so_outbox_record_finish()). -ENOENT when it
 * is not in the journal (never appended, or acknowledged), -EIO/-EBADMSG on a read error.
 */
int so_outbox_read(struct so_outbox *o, uint64_t seq, struct so_outbox_record *out);
void so_outbox_record_finish(struct so_outbox_record *r);

/*
 * Mark `seq` acknowledged; the cursor advances over every acknowledged prefix and segments
 * left with only acknowledged records are deleted (after the cursor is fsynced). Returns 0,
 * or -ENOENT when seq is not pending (already acknowledged, unknown: harmless).
 */
int so_outbox_ack(struct so_outbox *o, uint64_t seq);

/*
 * Parse one record at the start of buf[0..len) (no allocation: out->buf stays NULL and the
 * pointers refer into buf). Returns 0 and sets *consumed; -EAGAIN when buf ends inside the
 * record (a torn tail); -EBADMSG when it is not a valid record. Pure function, for recovery
 * and the fuzzer.
 */
int so_outbox_parse(const uint8_t *buf, size_t len, struct so_outbox_record *out,
                    size_t *consumed);

/* CRC-32 (IEEE 802.3, as zlib's crc32()), continuing from `crc` (0 to start). */
uint32_t so_crc32(uint32_t crc, const void *data, size_t len);

#endif
