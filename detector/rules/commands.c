/*
 * Why this file exists: the platform's operators answer the detector (docs/delivery.md
 * "Commands"): a case is a false alarm, a stall has a permit today, is it still there? Those
 * answers act here, on the rules' own state, between two frames of the analysis thread:
 *
 * - dismiss ends an open episode now (`cleared`, reason "dismissed") and leaves a gate: the
 *   thing that was dismissed (its place and look, taken when the episode opened) opens no new
 *   episode while it stays, until the dismissal's end. "The same thing" is decided like
 *   everywhere else in the rules (presence.h): its look is still there (light-invariant NCC),
 *   on a candidate whose box overlaps the place. A different thing there is not silenced.
 *   The thing leaving does not lift the gate: a false alarm that comes back every day (a
 *   fixture, a permitted van) is exactly what an operator dismisses, so it stays silenced
 *   whenever it stands there again, until the dismissal's end.
 * - permit gates a whole zone for a window; what is open when the window begins ends then
 *   (`cleared`, reason "permitted"), so a case is not left open through a market day.
 * - verify judges the episode's place on the last frame processed and reports it.
 *
 * Gates live in a small fixed array (SO_RULES_GATES_MAX): operators' decisions, not data. They
 * are given again after a restart from the command journal (app/commands.c), so nothing here
 * is persistent.
 */
#include "rules_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define GATE_OVERLAP 0.5    /* a candidate's box this much over the smaller: the same place */

static struct gate *gate_new(struct so_rules *r, const char *zone_id, double until_wall)
{
    if (r->n_gates >= SO_RULES_GATES_MAX) {
        so_warn(r->cam->id, "zone %s: %d dismissals and permits held already: one more ignored",
                zone_id, SO_RULES_GATES_MAX);
        return NULL;
    }
    struct gate *g = &r->gates[r->n_gates++];
    *g = (struct gate){.until_wall = until_wall};
    snprintf(g->zone_id, sizeof(g->zone_id), "%s", zone_id);
    so_place_init(&g->place);
    return g;
}

static void gate_drop(struct so_rules *r, int i)
{
    so_place_finish(&r->gates[i].place);
    r->gates[i] = r->gates[--r->n_gates];
}

void rules_gates_finish(struct so_rules *r)
{
    while (r->n_gates) {
        gate_drop(r, r->n_gates - 1);
    }
}

int so_rules_suppress(struct so_rules *r, const char *zone_id, struct so_box box,
                      const float *look, int tw, int th, double until_wall)
{
    struct gate *g = gate_new(r, zone_id, until_wall);
    if (!g) {
        return -ENOSPC;
    }
    g->place.box = box;
    if (look && tw > 0 && th > 0) {
        g->place.look = malloc(sizeof(float) * (size_t)tw * th);
        if (g->place.look) {
            memcpy(g->place.look, look, sizeof(float) * (size_t)tw * th);
            g->place.tw = tw;
            g->place.th = th;
        }
    }
    return 0;
}

int so_rules_permit(struct so_rules *r, const char *zone_id, double from_wall, double until_wall)
{
    struct gate *g = gate_new(r, zone_id, until_wall);
    if (!g) {
        return -ENOSPC;
    }
    g->permit = true;
    g->from_wall = from_wall;
    return 0;
}

static struct zone_state *zone_by_id(struct so_rules *r, const char *id)
{
    for (size_t i = 0; i < r->n_zones; i++) {
        if (strcmp(r->zones[i].cfg->id, id) == 0) {
            return &r->zones[i];
        }
    }
    return NULL;
}

void rules_gates_step(struct so_rules *r, struct so_frame *frame)
{
    for (int i = 0; i < r->n_gates;) {
        struct gate *g = &r->gates[i];
        if (frame->wall_s >= g->until_wall) {
            so_info(r->cam->id, "zone %s: %s ends", g->zone_id,
                    g->permit ? "permit window" : "dismissal");
            gate_drop(r, i);
            continue;
        }
        struct zone_state *z = g->permit ? zone_by_id(r, g->zone_id) : NULL;
        if (z && frame->wall_s >= g->from_wall) {
            rules_close_zone(r, z, frame, REASON_PERMITTED);
        }
        i++;
    }
}

/* Is the dismissed thing of gate g at `box` (NULL: anywhere in the zone) now? */
static bool gate_holds(struct so_rules *r, const struct gate *g, struct so_frame *frame,
                       const struct so_box *box)
{
    if (box && so_box_overlap_smaller(*box, g->place.box) < GATE_OVERLAP) {
        return false;
    }
    if (!g->place.look || !r->model) {
        return true;    /* no look to tell things apart: the place is what was dismissed */
    }
    return so_place_judge(&g->place, frame, r->model, r->look) == SO_PRESENCE_PRESENT;
}

bool rules_gate_allows(struct so_rules *r, struct zone_state *z, struct so_frame *frame,
                       const struct so_box *box)
{
    for (int i = 0; i < r->n_gates; i++) {
        const struct gate *g = &r->gates[i];
        if (strcmp(g->zone_id, z->cfg->id) != 0) {
            continue;
        }
        if (g->permit ? frame->wall_s >= g->from_wall : gate_holds(r, g, frame, box)) {
            return false;
        }
    }
    return true;
}

/* The open episode `id` in these rules: its zone and, for a vehicle, its track. NULL also
 * before the first frame. */
static struct so_episode *find_open(struct so_rules *r, const char *id, struct zone_state **zo,
                                    struct track **tro)
{
    for (size_t i = 0; r->last && i < r->n_zones; i++) {
        struct zone_state *z = &r->zones[i];
        *zo = z;
        *tro = NULL;
        if (z->ep.state == SO_EPISODE_OPEN && strcmp(z->ep.id, id) == 0) {
            return &z->ep;
        }
        for (int t = 0; t < MAX_TRACKS; t++) {
            struct track *tr = &z->tracks[t];
            if (tr->used && tr->ep.state == SO_EPISODE_OPEN && strcmp(tr->ep.id, id) == 0) {
                *tro = tr;
                return &tr->ep;
            }
        }
    }
    return NULL;
}

int so_rules_dismiss(struct so_rules *r, const char *episode_id)
{
    struct zone_state *z;
    struct track *tr;
    if (!find_open(r, episode_id, &z, &tr)) {
        return -ENOENT;
    }
    if (!tr) {
        rules_close_zone(r, z, r->last, REASON_DISMISSED);  /* a per-zone kind: its episode */
        return 0;
    }
    /* The track stays followed, its episode cleared: it cannot open again while followed. */
    so_episode_force_clear(&tr->ep, r->last->media_s);
    struct so_object obj = rules_track_object(tr);
    rules_emit(r, z, &tr->ep, SO_EPISODE_CLEARED_NOW, REASON_DISMISSED, -1, &obj, 1, tr->rest,
               r->last);
    so_info(r->cam->id, "zone %s: episode %s cleared (dismissed)", z->cfg->id, episode_id);
    return 0;
}

/* Present / gone / unknown for a zone episode: any of its places still there is present; all
 * of them seen empty is gone. */
static enum so_presence judge_zone(struct so_rules *r, struct zone_state *z, struct so_frame *f)
{
    int absent = 0;
    for (int i = 0; i < z->n_places; i++) {
        enum so_presence p = so_place_judge(&z->places[i].place, f, r->model, r->look);
        if (p == SO_PRESENCE_PRESENT) {
            return p;
        }
        absent += p == SO_PRESENCE_ABSENT;
    }
    return z->n_places && absent == z->n_places ? SO_PRESENCE_ABSENT : SO_PRESENCE_UNKNOWN;
}

int so_rules_verify(struct so_rules *r, const char *episode_id, const char *command_id)
{
    struct zone_state *z;
    struct track *tr;
    struct so_episode *ep = find_open(r, episode_id, &z, &tr);
    struct so_frame *now = r->last;
    if (!ep) {
        return -ENOENT;
    }
    enum so_presence p;
    if (tr) {
        p = tr->seen ? SO_PRESENCE_PRESENT
                     : r->model ? rules_vehicle_judge(r, tr, now)
                                : SO_PRESENCE_UNKNOWN;
    } else {
        p = r->model ? judge_zone(r, z, now) : SO_PRESENCE_UNKNOWN;
    }
    static const char *const names[] = {"unknown", "gone", "present"};
    static const char *const why[] = {
        "the place is hidden or cannot be judged now (traffic in front, light)",
        "the place looks empty: like the background, the thing's look is gone",
        "the thing's look is still at its place"};
    struct so_object obj = tr ? rules_track_object(tr) : (struct so_object){0};
    struct so_report rep = {
        .action = SO_EPISODE_VERIFIED, .camera = r->cam, .zone = z->cfg, .episode = ep,
        .zone_xy_n = z->zm->n, .zone_xy = z->zm->xy, .occupancy = -1, .now = now,
        .command_id = command_id, .verified = names[p], .verify_reason = why[p],
    };
    if (tr && p != SO_PRESENCE_ABSENT) {
        rep.objects[0] = obj;
        rep.n_objects = 1;
    }
    for (int i = 0; !tr && p == SO_PRESENCE_PRESENT && i < z->n_places; i++) {
        struct so_box b = z->places[i].place.box;   /* where the zone's things stand */
        rep.objects[rep.n_objects++] = (struct so_object){"object", 0, {b.x, b.y, b.w, b.h}, -1};
    }
    r->report(r->opaque, &rep);
    so_info(r->cam->id, "zone %s: episode %s verified: %s", z->cfg->id, episode_id, names[p]);
    return 0;
}
