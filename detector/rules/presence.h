/*
 * Is a thing still at its place? A followed vehicle (or a zone's occupied area) keeps its
 * episode until the place is *seen* empty: positive evidence of absence, never the mere lack of
 * a detection (issue 14, STYLE "evidence, not absence of evidence").
 *
 * A `struct so_place` holds the place (a box in analysis pixels) and the thing's look, taken
 * once it was followed. so_place_judge() says, for one frame:
 *   PRESENT  the thing's look is still there (NCC >= SO_PLACE_SAME, invariant to the light's
 *            gain and offset: a cloud, auto-exposure, the IR switch);
 *   ABSENT   nothing moves over it (traffic in front hides it) AND it looks like the learnt
 *            background (at most SO_PLACE_FG_MAX of its pixels differ from it in the static
 *            model, which normalises the light) AND the thing's look is gone (NCC below
 *            SO_PLACE_OTHER, or the place is flat now) or the place correlates better, by
 *            SO_PLACE_MARGIN, with the background than with the thing's look;
 *            None of this when the learnt background there looks like the thing's look
 *            (NCC >= SO_PLACE_SAME): the thing stood there while the model learnt the place,
 *            and looking like the background is then no sign of absence (UNKNOWN).
 *            Or: nothing moves over it AND it looks again like the place did before the
 *            thing came (NCC >= SO_PLACE_SAME with that look and better than with the
 *            thing's by SO_PLACE_MARGIN; or, the thing's look gone, better by twice that):
 *            light-invariant, whatever the static model thinks (its background may not have
 *            caught up with an exposure change; people passing behind change the place).
 *   UNKNOWN  anything else: a bus or a crowd in front, a light the model has not caught up
 *            with, a camera in trouble. An episode neither opens nor clears on UNKNOWN.
 * Value type embedded in its owner; so_place_finish() frees the look. Not thread-safe.
 */
#ifndef SO_RULES_PRESENCE_H
#define SO_RULES_PRESENCE_H

#include <stdbool.h>

#include "appearance.h"
#include "box.h"
#include "episode.h"
#include "frame.h"
#include "static_model.h"

#define SO_PLACE_SAME 0.6       /* NCC with the thing's look: it is still there */
#define SO_PLACE_OTHER 0.3      /* below: something else is there, or nothing */
#define SO_PLACE_FG_MAX 0.2     /* at most this share differs from the background: empty */
#define SO_PLACE_MOVING_MAX 0.2 /* at least this share moving: the place is hidden */
#define SO_PLACE_MARGIN 0.1     /* the place must look this much more like the background */
#define SO_PLACE_LATER_S 5.0    /* what came to rest this long after the thing is another's */
#define SO_PLACE_APART_MIN 0.1  /* the thing's own part is judged apart only when it holds at
                                 * least this share of the place's samples */
#define SO_PLACE_APART_SAMPLES 32   /* ... and at least this many */
#define SO_PLACE_SCRATCH (2 * SO_LOOK_MAX * SO_LOOK_MAX)   /* floats of a judge's scratch */

struct so_place {
    struct so_box box;          /* where the thing is, analysis pixels */
    float *look;                /* its look (appearance.h), tw*th, or NULL */
    float *empty;               /* the place's look before it came there, or NULL */
    uint8_t *own;               /* per sample of the look: 1 where it is the thing's own
                                 * pixel, not the ground around it (so_place_take_own), or NULL */
    int tw, th;
};

void so_place_init(struct so_place *p);
void so_place_finish(struct so_place *p);

/* Remember `box` as the place and the thing's look there on `f` (no look when the box is flat
 * or leaves the frame), and the place's look on `before` (a frame from before it came to rest;
 * may be NULL). Returns false only when out of memory. */
bool so_place_take(struct so_place *p, const struct so_frame *f, struct so_box box,
                   const struct so_frame *before);

/*
 * Mark which samples of the look taken are the thing's own: pixels the static model `m` (width
 * wide) sees at rest, differing from its background, that came to rest before `since_s` +
 * SO_PLACE_LATER_S (media time, so_static_model_rest_since). A thin thing (a bicycle: a frame
 * and two rings) leaves most of its box to the ground around it, which stays when it leaves:
 * over the whole box the look then still matches. Returns false only when out of memory.
 */
bool so_place_take_own(struct so_place *p, const struct so_static_model *m, int width,
                       double since_s);

/* The evidence of frame `f` (with the static model `m` updated on it) about the place. `scratch`
 * holds SO_PLACE_SCRATCH floats. */
enum so_presence so_place_judge(const struct so_place *p, const struct so_frame *f,
                                const struct so_static_model *m, float *scratch);

/*
 * The same, leaving out what came to rest in the place SO_PLACE_LATER_S or more after the thing
 * did (`since_s`, media time; NAN: judge the whole place): a bicycle left against it, a car
 * that pulled in in front of it. Its look, taken once the thing was followed, may hold a part
 * of such a neighbour; when the thing leaves, that part is still there, and over the whole
 * place the look is then neither the thing's nor the empty place's (never absent: an episode
 * that never clears). Over the rest of the place, the same three pieces of evidence decide.
 * When less than SO_PLACE_APART_MIN of the place is left (or nothing came later), the whole
 * place is judged.
 */
enum so_presence so_place_judge_apart(const struct so_place *p, const struct so_frame *f,
                                      const struct so_static_model *m, float *scratch,
                                      double since_s);

/* How much box looks on frame f like the static model's background there, light-invariantly
 * (NCC of the looks, -1..1), or -2 when it cannot be told (flat, off the frame). A thing at
 * rest correlates little with the ground it hides; a light artefact (ground under a light the
 * model had not learnt) correlates well. `scratch` as for so_place_judge. */
double so_place_background_likeness(const struct so_frame *f, const struct so_static_model *m,
                                    struct so_box box, float *scratch);

/* Share of the box's pixels that the static model sees differ from its background. */
double so_place_foreground_share(const struct so_static_model *m, int width, struct so_box box);

#endif
