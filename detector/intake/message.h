/*
 * The intake's view of one delivery message [ "SOE1", seq, json, jpeg... ] (ARCHITECTURE
 * "Delivery (contract)"): parsed and validated, so that whatever arrives on the ROUTER socket,
 * from a detector or from anything else, is either a well-formed event or a reason to ignore
 * it.
 *
 * Pure functions (no I/O, no globals): safe from any thread, and the target of a fuzzer.
 */
#ifndef SO_INTAKE_MESSAGE_H
#define SO_INTAKE_MESSAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SO_INTAKE_MAX_EVIDENCE 8

struct so_intake_frame {
    const uint8_t *data;
    size_t size;
};

struct so_intake_evidence {
    const char *role;           /* points into the record */
    char sha256[65];            /* verified against the bytes */
    const uint8_t *jpeg;        /* points into the frame */
    size_t size;
};

struct so_intake_event {
    uint64_t seq;
    json_t *record;             /* owned; released by so_intake_event_finish() */
    /* the fields stored in columns; strings point into the record */
    const char *event_id, *detector_id, *camera_id, *zone_id, *kind, *state;
    const char *category_code;  /* NULL when absent */
    const char *grid;           /* NULL when absent or null */
    double media_start_s;
    double media_end_s;         /* NAN when null */
    int n_evidence;
    struct so_intake_evidence evidence[SO_INTAKE_MAX_EVIDENCE];
};

/*
 * Parse the frames after the ROUTER's identity frame. Returns 0 and fills `out` (release it
 * with so_intake_event_finish()), or -EBADMSG with a short reason in `why`; then `out` holds
 * nothing to release. The frames are borrowed: `out` points into them.
 */
int so_intake_parse(const struct so_intake_frame *frames, size_t n_frames,
                    struct so_intake_event *out, char *why, size_t why_size);

/* Release a parsed event. Accepts one that was zeroed or already finished. */
void so_intake_event_finish(struct so_intake_event *ev);

#endif
