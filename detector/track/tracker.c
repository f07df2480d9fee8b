/*
 * Why this file exists: static coverage alone cannot tell a parked car from a pile of goods,
 * nor keep a parked car's identity when a bus passes in front of it. The detector says what is
 * there about once a second; this file turns those snapshots into objects at rest, with a
 * history.
 *
 * Design: violations are about things at rest, so tracks are *resting places* ("spots"), not
 * trajectories. Each detector tick, every detection votes for the spot of its role whose
 * centre is within 35% of its size and whose size is similar (a jittery box of a parked car
 * keeps voting for the same spot; a moving car leaves a trail of one-vote spots that never
 * become present). A detection that fits two spots at once is a box straddling two parked cars
 * (common on a row of cars) and votes for none. A spot is present while it got votes in at least
 * PRESENT_VOTES of the last HISTORY ticks, so missed detections and brief occlusion by traffic
 * do not make a parked car disappear; it is dropped once it got no vote for FORGET_TICKS.
 *
 * Appearance: once present for a few ticks a spot keeps the grey crop of its box as a template.
 * A vote whose crop no longer matches it (normalised cross-correlation < NCC_OTHER, invariant to
 * light gain and offset) means another object rests there now: the spot ends and a new one
 * starts. Ticks without a vote where the crop still matches (>= NCC_SAME) count as votes: the
 * detector missed a car that is visibly still there.
 */
#include "tracker.h"

#include "appearance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR 0.35           /* centre distance, share of the size */
#define SIZE_RATIO 1.6      /* width/height may differ by this factor */
#define HISTORY 10          /* ticks of vote history */
#define PRESENT_VOTES 4     /* votes in HISTORY ticks to be present */
#define FORGET_TICKS 15
#define TEMPLATE_AFTER 3    /* votes before a template is taken */
#define NCC_SAME 0.75
#define NCC_OTHER 0.3
#define BOX_ALPHA 0.25f     /* smoothing of the spot's box */
#define PENDING_TICKS 3     /* a new spot asks for the detector this long after its last vote */

struct spot {
    struct so_track pub;
    bool used;
    float bx, by, bw, bh;   /* smoothed box */
    uint32_t history;       /* bit k: a vote k ticks ago */
    int votes;
    int silent;             /* ticks since the last vote */
    float *tmpl;            /* normalised template samples, tw*th, or NULL */
    int tw, th;
    struct so_box tmpl_box;
};

struct so_tracker {
    int w, h;
    float scratch[SO_LOOK_MAX * SO_LOOK_MAX];     /* the current crop, for appearance() */
    int next_id;
    struct spot spots[SO_TRACK_MAX];
    struct so_track view[SO_TRACK_MAX];
    int n_view;
};

struct so_tracker *so_tracker_create(int width, int height)
{
    struct so_tracker *t = calloc(1, sizeof(*t));
    if (t) {
        t->w = width;
        t->h = height;
    }
    return t;
}

static void drop(struct spot *s)
{
    free(s->tmpl);
    memset(s, 0, sizeof(*s));
}

void so_tracker_destroy(struct so_tracker *t)
{
    if (!t) {
        return;
    }
    for (int i = 0; i < SO_TRACK_MAX; i++) {
        drop(&t->spots[i]);
    }
    free(t);
}

/* Sample the grey frame on a grid over `box`, normalised to zero mean and unit variance.
 * Returns false for a flat or tiny box. */
static void take_template(struct spot *s, const struct so_frame *f)
{
    struct so_box b = s->pub.box;
    int tw, th;
    so_look_grid(b.w, b.h, &tw, &th);
    if (tw < 4 || th < 4) {
        return;
    }
    float *buf = malloc(sizeof(float) * (size_t)tw * th);
    if (!buf) {
        return;
    }
    if (!so_look_sample(f, b, tw, th, buf)) {
        free(buf);
        return;
    }
    free(s->tmpl);
    s->tmpl = buf;
    s->tw = tw;
    s->th = th;
    s->tmpl_box = b;
}

/* NCC of the frame at the template's box against the template; -2 when unknown. */
static double appearance(struct so_tracker *t, const struct spot *s, const struct so_frame *f)
{
    if (!s->tmpl) {
        return -2;
    }
    float *cur = t->scratch;    /* tw, th <= SO_LOOK_MAX */
    double ncc = -2;
    if (so_look_sample(f, s->tmpl_box, s->tw, s->th, cur)) {
        ncc = so_look_ncc(s->tmpl, cur, (size_t)s->tw * s->th);
    }
    return ncc;
}

/* Does detection box d fit spot s (near its centre, similar size)? Returns the normalised
 * centre distance, or a negative value when it does not fit. */
static double fit(const struct spot *s, struct so_box d)
{
    double dcx = d.x + d.w / 2.0, dcy = d.y + d.h / 2.0;
    double scx = s->bx + s->bw / 2.0, scy = s->by + s->bh / 2.0;
    double sw = s->bw > 8 ? s->bw : 8, sh = s->bh > 8 ? s->bh : 8;
    double rw = d.w / sw, rh = d.h / sh;
    if (rw > SIZE_RATIO || rw < 1 / SIZE_RATIO || rh > SIZE_RATIO || rh < 1 / SIZE_RATIO) {
        return -1;
    }
    double ex = fabs(dcx - scx) / (NEAR * (sw > d.w ? sw : d.w));
    double ey = fabs(dcy - scy) / (NEAR * (sh > d.h ? sh : d.h));
    return ex <= 1 && ey <= 1 ? (ex > ey ? ex : ey) : -1;
}

static struct spot *new_spot(struct so_tracker *t, const struct so_detection *d, double now)
{
    for (int i = 0; i < SO_TRACK_MAX; i++) {
        struct spot *s = &t->spots[i];
        if (s->used) {
            continue;
        }
        memset(s, 0, sizeof(*s));
        s->used = true;
        s->pub.id = t->next_id++;
        s->pub.role = d->role;
        s->pub.first_s = s->pub.rest_s = now;
        s->bx = (float)d->box.x;
        s->by = (float)d->box.y;
        s->bw = (float)d->box.w;
        s->bh = (float)d->box.h;
        return s;
    }
    return NULL;
}

static void vote(struct spot *s, const struct so_detection *d, double now)
{
    if (s->votes > 0) {
        s->bx += BOX_ALPHA * ((float)d->box.x - s->bx);
        s->by += BOX_ALPHA * ((float)d->box.y - s->by);
        s->bw += BOX_ALPHA * ((float)d->box.w - s->bw);
        s->bh += BOX_ALPHA * ((float)d->box.h - s->bh);
    }
    s->history |= 1;
    s->votes++;
    s->silent = 0;
    s->pub.last_seen_s = now;
    if (d->score > s->pub.score || s->votes == 1) {
        s->pub.score = d->score;
    }
    snprintf(s->pub.cls, sizeof(s->pub.cls), "%s", d->class_name ? d->class_name : "object");
}

static int popcount(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1) {
        n++;
    }
    return n;
}

/* The spot's box as its users see it (pending requests, held checks, the public view). */
static struct so_box spot_box(const struct spot *s)
{
    return (struct so_box){(int)lroundf(s->bx), (int)lroundf(s->by), (int)lroundf(s->bw),
                           (int)lroundf(s->bh)};
}

void so_tracker_update(struct so_tracker *t, const struct so_frame *frame,
                       const struct so_detection *dets, int n, bool detected,
                       so_tracker_held_fn held, void *ud)
{
    double now = frame->media_s;
    if (detected) {
        for (int i = 0; i < SO_TRACK_MAX; i++) {
            t->spots[i].history <<= 1;
        }
        bool voted[SO_TRACK_MAX] = {false};
        for (int k = 0; k < n; k++) {
            const struct so_detection *d = &dets[k];
            struct spot *best = NULL;
            double best_fit = 2;
            int fits = 0;
            for (int i = 0; i < SO_TRACK_MAX; i++) {
                struct spot *s = &t->spots[i];
                if (!s->used || s->pub.role != d->role) {
                    continue;
                }
                double f = fit(s, d->box);
                if (f < 0) {
                    continue;
                }
                /* Only established spots count against a straddling box. */
                fits += s->votes >= PRESENT_VOTES;
                if (!voted[i] && f < best_fit) {
                    best_fit = f;
                    best = s;
                }
            }
            if (fits >= 2) {
                continue;   /* straddles two resting objects */
            }
            double look;
            if (!best) {
                best = new_spot(t, d, now);
                if (!best) {
                    continue;
                }
            } else if (best->tmpl && (look = appearance(t, best, frame)) < NCC_OTHER &&
                       look > -2) {
                /* Same place, different look: another object rests there now. */
                drop(best);
                best = new_spot(t, d, now);
                if (!best) {
                    continue;
                }
            }
            voted[best - t->spots] = true;
            vote(best, d, now);
        }
        for (int i = 0; i < SO_TRACK_MAX; i++) {
            struct spot *s = &t->spots[i];
            if (!s->used || voted[i]) {
                continue;
            }
            if (held) {
                struct so_box b = spot_box(s);
                if (held(&b, ud)) {     /* not looked at: this tick does not count */
                    s->history >>= 1;
                    continue;
                }
            }
            /* Missed: is the resting object visibly still there? */
            if (s->tmpl && appearance(t, s, frame) >= NCC_SAME) {
                s->history |= 1;
                s->pub.last_seen_s = now;
                s->silent = 0;
            } else if (++s->silent >= FORGET_TICKS) {
                drop(s);
            }
        }
    }
    t->n_view = 0;
    for (int i = 0; i < SO_TRACK_MAX; i++) {
        struct spot *s = &t->spots[i];
        if (!s->used) {
            continue;
        }
        s->pub.box = spot_box(s);
        s->pub.present = popcount(s->history & ((1u << HISTORY) - 1)) >= PRESENT_VOTES ||
                         (s->votes < PRESENT_VOTES && s->votes == popcount(s->history) &&
                          s->votes >= 2 && (s->history & 1));
        s->pub.stationary = s->votes >= 2;
        if (!s->tmpl && s->votes >= TEMPLATE_AFTER && s->pub.present) {
            take_template(s, frame);
        }
        t->view[t->n_view++] = s->pub;
    }
}

int so_tracker_pending(const struct so_tracker *t, struct so_box *boxes, bool *is_person, int max,
                       bool people)
{
    int n = 0;
    for (int i = 0; i < SO_TRACK_MAX && n < max; i++) {
        const struct spot *s = &t->spots[i];
        bool person = s->pub.role == SO_ROLE_PERSON;
        if (!s->used || s->votes < (person ? 2 : 1) || (person && !people)) {
            continue;
        }
        if (!s->tmpl ? s->silent < PENDING_TICKS : !person && s->silent >= 1) {
            if (is_person) {
                is_person[n] = person;
            }
            boxes[n++] = spot_box(s);
        }
    }
    return n;
}

int so_tracker_tracks(const struct so_tracker *t, const struct so_track **out)
{
    *out = t->view;
    return t->n_view;
}

void so_tracker_translate(struct so_tracker *t, int dx, int dy)
{
    if (!t) {
        return;
    }
    for (int i = 0; i < SO_TRACK_MAX; i++) {
        struct spot *s = &t->spots[i];
        if (!s->used) {
            continue;
        }
        s->bx += (float)dx;
        s->by += (float)dy;
        s->pub.box = so_box_moved(s->pub.box, dx, dy, t->w, t->h);
        s->tmpl_box = so_box_moved(s->tmpl_box, dx, dy, t->w, t->h);
    }
    for (int i = 0; i < t->n_view; i++) {
        t->view[i].box = so_box_moved(t->view[i].box, dx, dy, t->w, t->h);
    }
}
