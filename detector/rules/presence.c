/*
 * Why this file exists: an episode's `cleared` is read by the platform as an automatic 核查
 * ("gone"), so it must rest on having seen the place empty. Three independent pieces of
 * evidence are combined, each robust to what fooled the old rule (a detector that misses a
 * car on some looks, a track lost under a bus, a cloud over the scene):
 *   - the thing's own look, by normalised cross-correlation (light gain and offset cancel out);
 *   - the static model's foreground over the place: its background is the place as it was
 *     learnt without the thing (for a car parked before the start, the model absorbs the ghost
 *     it leaves behind once it is gone, rules/), compared after the model's light normalisation;
 *   - the static model's moving pixels: a place hidden by traffic is not judged at all.
 * Only when the look is gone AND the place looks like its background AND nothing hides it is
 * it absent; when the look is still there it is present; anything else is unknown.
 */
#include "presence.h"

#include <stdlib.h>

#include "appearance.h"

void so_place_init(struct so_place *p)
{
    *p = (struct so_place){0};
}

void so_place_finish(struct so_place *p)
{
    if (p) {
        free(p->look);
        free(p->empty);
        so_place_init(p);
    }
}

/* A look of box on f into a new buffer, or NULL (flat, off the frame, out of memory). */
static float *take_look(const struct so_frame *f, struct so_box box, int tw, int th)
{
    float *look = f ? malloc(sizeof(float) * (size_t)tw * th) : NULL;
    if (look && !so_look_sample(f, box, tw, th, look)) {
        free(look);
        look = NULL;
    }
    return look;
}

bool so_place_take(struct so_place *p, const struct so_frame *f, struct so_box box,
                   const struct so_frame *before)
{
    so_place_finish(p);
    p->box = box;
    so_look_grid(box.w, box.h, &p->tw, &p->th);
    if (p->tw < 4 || p->th < 4) {
        return true;
    }
    p->look = take_look(f, box, p->tw, p->th);
    p->empty = take_look(before, box, p->tw, p->th);
    return true;
}

double so_place_foreground_share(const struct so_static_model *m, int width, struct so_box box)
{
    const uint8_t *fg = so_static_model_foreground(m);
    long on = 0, all = 0;
    for (int y = box.y; y < box.y + box.h; y++) {
        const uint8_t *row = fg + (size_t)y * width;
        for (int x = box.x; x < box.x + box.w; x++) {
            on += row[x] != 0;
            all++;
        }
    }
    return all ? (double)on / (double)all : 0;
}

/* NCC of the look in `look` (tw x th, taken at box) with the static model's background there,
 * or -2 (flat, off the frame). Uses look + tw * th as scratch. */
static double background_ncc(const struct so_frame *f, const struct so_static_model *m,
                             struct so_box box, int tw, int th, float *look)
{
    size_t n = (size_t)tw * th;
    float *bg = look + n;
    if (!so_look_sample_map(so_static_model_background(m), f->width, f->height, box, tw, th,
                            bg)) {
        return -2;
    }
    return so_look_ncc(bg, look, n);
}

double so_place_background_likeness(const struct so_frame *f, const struct so_static_model *m,
                                    struct so_box box, float *scratch)
{
    int tw, th;
    so_look_grid(box.w, box.h, &tw, &th);
    if (tw < 4 || th < 4 || !so_look_sample(f, box, tw, th, scratch)) {
        return -2;
    }
    return background_ncc(f, m, box, tw, th, scratch);
}

/*
 * Does the place's look now match its empty look (`empty`: NCC with it) better than the thing's
 * (`ncc`)? Clearly (SO_PLACE_SAME, by SO_PLACE_MARGIN); or, the thing's look gone, by twice the
 * margin, as long as the empty look is still recognisable (SO_PLACE_OTHER): a bus stopped in
 * front correlates with neither, and must not pass for the empty place.
 */
static bool looks_empty(double empty, double ncc)
{
    return (empty >= SO_PLACE_SAME && empty > ncc + SO_PLACE_MARGIN) ||
           (ncc < SO_PLACE_OTHER && empty >= SO_PLACE_OTHER && empty > ncc + 2 * SO_PLACE_MARGIN);
}

enum so_presence so_place_judge(const struct so_place *p, const struct so_frame *f,
                                const struct so_static_model *m, float *scratch)
{
    struct so_box b = so_box_clip(p->box, f->width, f->height);
    if (b.w <= 0 || b.h <= 0) {
        return SO_PRESENCE_UNKNOWN;
    }
    size_t n = (size_t)p->tw * p->th;
    bool textured = p->look && so_look_sample(f, p->box, p->tw, p->th, scratch);
    double ncc = textured ? so_look_ncc(p->look, scratch, n) : -2;
    if (ncc >= SO_PLACE_SAME) {
        return SO_PRESENCE_PRESENT;
    }
    if (so_static_model_moving_share(m, b.x, b.y, b.w, b.h) >= SO_PLACE_MOVING_MAX) {
        return SO_PRESENCE_UNKNOWN;     /* hidden by what moves in front */
    }
    if (textured && p->empty && looks_empty(so_look_ncc(p->empty, scratch, n), ncc)) {
        return SO_PRESENCE_ABSENT;      /* it looks again like the place before it came */
    }
    double bg_ncc = textured ? background_ncc(f, m, p->box, p->tw, p->th, scratch) : -2;
    if (bg_ncc > -2 && so_look_ncc(scratch + n, p->look, n) >= SO_PLACE_SAME) {
        /* The learnt background there looks like the thing itself: it stood there while the
         * model learnt the place (parked before the analysis began). Looking like the
         * background is then no sign of absence: a car that never moved, seen through a gust
         * or a blur, matched the background better than its own look, and was "gone". */
        return SO_PRESENCE_UNKNOWN;
    }
    if (bg_ncc >= SO_PLACE_SAME && bg_ncc > ncc + SO_PLACE_MARGIN) {
        /* It looks like the learnt empty place, light-invariantly, whatever the model's
         * foreground says (an exposure ramp while the thing stood: the ground it uncovered is
         * "at rest" in the model, yet it is the same ground). */
        return SO_PRESENCE_ABSENT;
    }
    if (so_place_foreground_share(m, f->width, b) > SO_PLACE_FG_MAX) {
        return SO_PRESENCE_UNKNOWN;     /* something else than the learnt background */
    }
    /* The place looks like the background. It is empty when the thing's look is gone, or when
     * the place now looks more like the learnt background than like the thing (its look held
     * some of the road around it). A thing that is part of the learnt background itself (parked
     * before the model learnt the place) keeps its look, and was found present above. */
    if (!textured || ncc < SO_PLACE_OTHER) {
        return SO_PRESENCE_ABSENT;
    }
    if (bg_ncc > ncc + SO_PLACE_MARGIN) {
        return SO_PRESENCE_ABSENT;      /* more like the learnt empty place than like the thing */
    }
    return SO_PRESENCE_UNKNOWN;
}
