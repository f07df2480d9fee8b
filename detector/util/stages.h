/*
 * Where a camera's CPU goes: cumulative thread-CPU seconds per stage of its pipeline (issue 15,
 * scripts/bench's shares, /metrics' streetorder_stage_cpu_seconds_total). The decode thread
 * adds decode and scale (source.c), the analysis thread the others (app/run.c).
 *
 * Embedded in the camera's state (so_stages_init); writers add with so_stages_add from their
 * own thread, readers read from any thread (atomics, no lock).
 */
#ifndef SO_UTIL_STAGES_H
#define SO_UTIL_STAGES_H

#include <stdatomic.h>

enum so_stage {
    SO_STAGE_DECODE,    /* demux and decode (the decode thread, scaling excluded) */
    SO_STAGE_SCALE,     /* scaling and conversion to the analysis frame */
    SO_STAGE_STATIC,    /* the static-foreground model */
    SO_STAGE_NETWORK,   /* the object detector's looks (preprocess, inference, decode, NMS) */
    SO_STAGE_TRACKER,   /* scheduling the looks, the tracker and its appearance checks */
    SO_STAGE_RULES,     /* zone rules, episodes and event building */
    SO_STAGE_OTHER,     /* the view check and publishing for the HTTP pages */
    SO_STAGE_COUNT
};

struct so_stages {
    atomic_uint_fast64_t ns[SO_STAGE_COUNT];
};

void so_stages_init(struct so_stages *s);

/* "decode", "scale", "static", "network", "tracker", "rules", "other"; NULL out of range. */
const char *so_stage_name(enum so_stage st);

/* Add `seconds` (negative values are ignored) to a stage. Accepts NULL s. */
void so_stages_add(struct so_stages *s, enum so_stage st, double seconds);

/* The seconds of a stage so far; 0 for NULL s. */
double so_stages_get(const struct so_stages *s, enum so_stage st);

#endif
