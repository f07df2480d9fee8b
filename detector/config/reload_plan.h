/*
 * What a reload (SIGHUP) does, decided from configs alone: per running camera keep it, give it
 * new zones, restart it or remove it; which cameras of the new config are added; which
 * restart-only keys differ from the values the detector started with. `streetorder run`
 * (detector/app/run.c, reload()) applies the plan; docs/architecture.md, "Reloading the
 * configuration", says what each outcome means for a camera.
 *
 * Ownership: so_reload_plan() fills a caller's struct and allocates its arrays;
 * so_reload_plan_finish() frees them (a zeroed or finished plan may be finished again). The
 * configs are only read.
 *
 * Threads: no shared state; any thread.
 *
 * Errors: none (allocations abort when memory is out, like every small allocation).
 */
#ifndef SO_CONFIG_RELOAD_PLAN_H
#define SO_CONFIG_RELOAD_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* What happens to a running camera. */
enum so_reload_fate {
    SO_RELOAD_KEEP,         /* unchanged: not touched */
    SO_RELOAD_ZONES,        /* only its zones changed: it keeps running with the new ones */
    SO_RELOAD_RESTART,      /* stream settings changed (so_camera_stream_equal): restarted */
    SO_RELOAD_REMOVE,       /* not in the new config: stopped */
};

struct so_reload_plan {
    enum so_reload_fate *fate;  /* per camera of `cur`, in its order */
    size_t n_cur;
    int *from;                  /* per camera of `next`, in its order: the index in `cur` of the
                                 * camera with its id, -1 when it is added */
    size_t n_next;
    size_t n_zones, n_restart, n_remove, n_add;     /* cameras of each fate; added ones */
    size_t n_restart_keys;      /* restart-only keys that differ from `base`... */
    char restart_keys[512];     /* ...their names, comma-separated ("" when none) */
};

/*
 * The plan for going from `cur` (the config whose cameras run, in its order) to `next`.
 * Restart-only keys (so_config_restart_changes) are compared with `base`, the config the
 * process started with: a running detector keeps those values whatever a reload says.
 */
void so_reload_plan(const struct so_config *base, const struct so_config *cur,
                    const struct so_config *next, struct so_reload_plan *out);

/* Does the plan change any camera (one added, or one whose fate is not keep)? */
bool so_reload_plan_changes(const struct so_reload_plan *p);

void so_reload_plan_finish(struct so_reload_plan *p);

/* The zones of one camera that go (not in `next`, or of another kind), come (new, or of another
 * kind) or get new settings, as comma-separated ids (truncated quietly: a log line). */
struct so_zone_diff {
    char removed[256];
    char added[256];
    char changed[256];
};

void so_reload_zone_diff(const struct so_camera_cfg *cur, const struct so_camera_cfg *next,
                         struct so_zone_diff *out);

#endif
