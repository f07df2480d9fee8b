/*
 * The reload plan: what a SIGHUP does to each camera, computed from configs alone.
 *
 * Why a file of its own: reload() in app/run.c used to decide and act in one 170-line function,
 * so the decision (which camera keeps running, which gets new zones, which restarts) could only
 * be tested by sending signals to a running detector (tests/reload). Here it is a pure function
 * of three configs with table-driven unit tests (tests/unit/test_reload_plan.c); reload() logs
 * and applies the plan in the same order as before.
 *
 * Why in config/ and not app/: it depends on nothing but the config types and their
 * comparisons (so_camera_stream_equal, so_camera_zones_equal, so_config_restart_changes), and
 * config/ is in the core library the unit tests link; app/ is wiring compiled into the daemon
 * only.
 *
 * The running cameras are those of `cur`, in its order: run.c starts one per camera of the
 * config it loads and, after a reload that changes any camera, its list is the new config's,
 * in that order. A camera kept as it was may still borrow its settings from an older config
 * than `cur`, but those are equal to cur's (that is why it was kept), so comparing with `cur`
 * decides the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reload_plan.h"
#include "xalloc.h"

/* Append "sep item" to a fixed buffer (truncating quietly: it is a log line). */
static void append(char *buf, size_t size, const char *sep, const char *item)
{
    size_t n = strlen(buf);
    if (n < size) {
        snprintf(buf + n, size - n, "%s%s", n ? sep : "", item);
    }
}

static enum so_reload_fate fate_of(const struct so_camera_cfg *cam, const struct so_config *next)
{
    const struct so_camera_cfg *nc = so_config_find_camera(next, cam->id);
    if (!nc) {
        return SO_RELOAD_REMOVE;
    }
    if (!so_camera_stream_equal(cam, nc)) {
        return SO_RELOAD_RESTART;
    }
    return so_camera_zones_equal(cam, nc) ? SO_RELOAD_KEEP : SO_RELOAD_ZONES;
}

void so_reload_plan(const struct so_config *base, const struct so_config *cur,
                    const struct so_config *next, struct so_reload_plan *out)
{
    *out = (struct so_reload_plan){0};
    const char *keys[16];
    out->n_restart_keys = so_config_restart_changes(base, next, keys, 16);
    for (size_t i = 0; i < out->n_restart_keys && i < 16; i++) {
        append(out->restart_keys, sizeof(out->restart_keys), ", ", keys[i]);
    }
    out->n_cur = cur->n_cameras;
    out->fate = so_xcalloc(out->n_cur, sizeof(*out->fate));
    for (size_t i = 0; i < cur->n_cameras; i++) {
        out->fate[i] = fate_of(&cur->cameras[i], next);
        out->n_zones += out->fate[i] == SO_RELOAD_ZONES;
        out->n_restart += out->fate[i] == SO_RELOAD_RESTART;
        out->n_remove += out->fate[i] == SO_RELOAD_REMOVE;
    }
    out->n_next = next->n_cameras;
    out->from = so_xcalloc(out->n_next, sizeof(*out->from));
    for (size_t k = 0; k < next->n_cameras; k++) {
        out->from[k] = -1;
        for (size_t i = 0; i < cur->n_cameras && out->from[k] < 0; i++) {
            if (strcmp(cur->cameras[i].id, next->cameras[k].id) == 0) {
                out->from[k] = (int)i;
            }
        }
        out->n_add += out->from[k] < 0;
    }
}

bool so_reload_plan_changes(const struct so_reload_plan *p)
{
    return p->n_add || p->n_zones || p->n_restart || p->n_remove;
}

void so_reload_plan_finish(struct so_reload_plan *p)
{
    free(p->fate);
    free(p->from);
    p->fate = NULL;
    p->from = NULL;
}

void so_reload_zone_diff(const struct so_camera_cfg *cur, const struct so_camera_cfg *next,
                         struct so_zone_diff *out)
{
    *out = (struct so_zone_diff){{0}};
    for (size_t i = 0; i < cur->n_zones; i++) {
        const struct so_zone_cfg *z = so_camera_find_zone(next, cur->zones[i].id);
        if (!z || z->kind != cur->zones[i].kind) {
            append(out->removed, sizeof(out->removed), ", ", cur->zones[i].id);
        } else if (!so_zone_cfg_equal(z, &cur->zones[i])) {
            append(out->changed, sizeof(out->changed), ", ", z->id);
        }
    }
    for (size_t i = 0; i < next->n_zones; i++) {
        const struct so_zone_cfg *z = so_camera_find_zone(cur, next->zones[i].id);
        if (!z || z->kind != next->zones[i].kind) {
            append(out->added, sizeof(out->added), ", ", next->zones[i].id);
        }
    }
}
