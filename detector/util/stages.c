/* Per-stage CPU counters of a camera (stages.h): nanoseconds in atomics, so that the decode
 * and analysis threads add while /metrics reads, without a lock. */
#include "stages.h"

#include <stdint.h>

#include "enumname.h"

static const char *const names[SO_STAGE_COUNT] = {
    [SO_STAGE_DECODE] = "decode",   [SO_STAGE_SCALE] = "scale",
    [SO_STAGE_STATIC] = "static",   [SO_STAGE_NETWORK] = "network",
    [SO_STAGE_TRACKER] = "tracker", [SO_STAGE_RULES] = "rules",
    [SO_STAGE_OTHER] = "other",
};

void so_stages_init(struct so_stages *s)
{
    for (int i = 0; i < SO_STAGE_COUNT; i++) {
        atomic_init(&s->ns[i], 0);
    }
}

const char *so_stage_name(enum so_stage st)
{
    return so_enum_name(names, SO_STAGE_COUNT, (int)st);
}

void so_stages_add(struct so_stages *s, enum so_stage st, double seconds)
{
    if (s && st >= 0 && st < SO_STAGE_COUNT && seconds > 0) {
        atomic_fetch_add(&s->ns[st], (uint_fast64_t)(seconds * 1e9 + 0.5));
    }
}

double so_stages_get(const struct so_stages *s, enum so_stage st)
{
    if (!s || st < 0 || st >= SO_STAGE_COUNT) {
        return 0;
    }
    return (double)atomic_load(&s->ns[st]) * 1e-9;
}
