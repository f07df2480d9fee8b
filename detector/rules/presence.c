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

#include <math.h>
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
        free(p->own);
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

/* What a frame shows of a place: its look now against the thing's look (`ncc`), against the
 * place before the thing came (`empty`), against the learnt background (`bg`), and how the
 * background compares with the thing's look (`bg_thing`); -2 where it cannot be told. */
struct evidence {
    bool textured;      /* the place now has a look (not flat, in the frame), as has the thing */
    double ncc, empty, bg, bg_thing;
};

/* The evidence over the whole place. `scratch` as for so_place_judge. */
static struct evidence whole_place(const struct so_place *p, const struct so_frame *f,
                                   const struct so_static_model *m, float *scratch)
{
    size_t n = (size_t)p->tw * p->th;
    struct evidence e = {.ncc = -2, .empty = -2, .bg = -2, .bg_thing = -2};
    e.textured = p->look && so_look_sample(f, p->box, p->tw, p->th, scratch);
    if (!e.textured) {
        return e;
    }
    e.ncc = so_look_ncc(p->look, scratch, n);
    e.empty = p->empty ? so_look_ncc(p->empty, scratch, n) : -2;
    e.bg = background_ncc(f, m, p->box, p->tw, p->th, scratch);
    e.bg_thing = e.bg > -2 ? so_look_ncc(scratch + n, p->look, n) : -2;
    return e;
}

/* NCC of looks a and b over their samples idx[0..k) alone, each normalised again over them
 * (NCC ignores gain and offset: the looks of that part alone), or -2 when either is missing or
 * flat there (under a hundredth of its whole look's variance). */
static double subset_ncc(const float *a, const float *b, const uint16_t *idx, int k)
{
    if (!a || !b || k < 2) {
        return -2;
    }
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (int i = 0; i < k; i++) {
        double va = a[idx[i]], vb = b[idx[i]];
        sa += va;
        sb += vb;
        saa += va * va;
        sbb += vb * vb;
        sab += va * vb;
    }
    double vara = saa / k - (sa / k) * (sa / k), varb = sbb / k - (sb / k) * (sb / k);
    if (vara < 0.01 || varb < 0.01) {
        return -2;
    }
    return (sab / k - (sa / k) * (sb / k)) / sqrt(vara * varb);
}

/* The evidence over the kept samples of the place only (`kept`, k of them; the looks sampled
 * over the whole place, the kept part normalised on its own). `scratch` as for so_place_judge. */
static struct evidence kept_part(const struct so_place *p, const struct so_frame *f,
                                 const struct so_static_model *m, const uint16_t *kept, int k,
                                 float *scratch)
{
    size_t n = (size_t)p->tw * p->th;
    struct evidence e = {.ncc = -2, .empty = -2, .bg = -2, .bg_thing = -2};
    float *now = scratch, *bg = scratch + n;
    e.ncc = p->look && so_look_sample(f, p->box, p->tw, p->th, now)
                ? subset_ncc(p->look, now, kept, k) : -2;
    e.textured = e.ncc > -2;
    if (!e.textured) {
        return e;
    }
    e.empty = subset_ncc(p->empty, now, kept, k);
    if (so_look_sample_map(so_static_model_background(m), f->width, f->height, p->box, p->tw,
                           p->th, bg)) {
        e.bg = subset_ncc(bg, now, kept, k);
        e.bg_thing = subset_ncc(bg, p->look, kept, k);
    }
    return e;
}

/*
 * Part by part, does the thing's own part of the place look like the empty place again? Its
 * kept samples (`kept`, k of them) fall into PARTS_X x PARTS_Y parts of the place, and each
 * part with PART_SAMPLES of them votes by the whole place's test: empty when its look now
 * matches the place before the thing came, or the learnt background (`bg`: its look, or NULL),
 * clearly (SO_PLACE_SAME) and better than the thing's look by SO_PLACE_MARGIN; the thing when
 * it matches the thing's look so, better than both; else (flat, something else in front) no
 * vote. True when at least PARTS_EMPTY parts look empty and no more look like the thing: a
 * rigid thing at least half gone from its place has left it. A thing partly replaced by a
 * look-alike in the same spot (a bicycle's wheel by its neighbour's) still matches its own
 * look there, and over the whole place its look is then neither the thing's nor the empty
 * place's. While the thing stands there, no part of it looks empty.
 */
#define PARTS_X 4
#define PARTS_Y 3
#define PART_SAMPLES 16
#define PARTS_EMPTY 3

static bool parts_look_empty(const struct so_place *p, const float *now, const float *bg,
                             const uint16_t *kept, int k)
{
    enum { PARTS = PARTS_X * PARTS_Y };
    uint16_t idx[SO_LOOK_MAX * SO_LOOK_MAX];
    int start[PARTS + 1] = {0}, fill[PARTS];
    for (int s = 0; s < k; s++) {   /* the kept samples by part, in their order (one pass) */
        int i = kept[s] % p->tw, j = kept[s] / p->tw;
        start[(j * PARTS_Y / p->th) * PARTS_X + i * PARTS_X / p->tw + 1]++;
    }
    for (int part = 0; part < PARTS; part++) {
        start[part + 1] += start[part];
        fill[part] = start[part];
    }
    for (int s = 0; s < k; s++) {
        int i = kept[s] % p->tw, j = kept[s] / p->tw;
        idx[fill[(j * PARTS_Y / p->th) * PARTS_X + i * PARTS_X / p->tw]++] = kept[s];
    }
    int empty = 0, thing = 0;
    for (int part = 0; part < PARTS; part++) {
        const uint16_t *in = idx + start[part];
        int m = start[part + 1] - start[part];
        if (m < PART_SAMPLES) {
            continue;
        }
        double own = subset_ncc(p->look, now, in, m);
        double was = subset_ncc(p->empty, now, in, m), ground = subset_ncc(bg, now, in, m);
        was = ground > was ? ground : was;
        empty += was >= SO_PLACE_SAME && was > own + SO_PLACE_MARGIN;
        thing += own >= SO_PLACE_SAME && own > was + SO_PLACE_MARGIN;
    }
    return empty >= PARTS_EMPTY && empty >= thing;
}

/* Did pixel i come to rest SO_PLACE_LATER_S or more after `since_s` (media time): something
 * else, at rest in front of or beside the thing? */
static bool came_later(const struct so_static_model *m, size_t i, double since_s)
{
    const float *age = so_static_model_age(m);
    return so_static_model_foreground(m)[i] && age[i] > 0 &&
           so_static_model_rest_since(m, age[i]) >= since_s + SO_PLACE_LATER_S;
}

/* The pixel of the frame (width wide) that sample (i, j) of the place's look reads. */
static size_t sample_pixel(const struct so_place *p, int i, int j, int width)
{
    size_t y = (size_t)(p->box.y + (int)((j + 0.5) * p->box.h / p->th));
    return y * width + (size_t)(p->box.x + (int)((i + 0.5) * p->box.w / p->tw));
}

bool so_place_take_own(struct so_place *p, const struct so_static_model *m, int width,
                       double since_s)
{
    if (!p->look) {
        return true;
    }
    free(p->own);
    p->own = malloc((size_t)p->tw * p->th);
    if (!p->own) {
        return false;
    }
    const float *age = so_static_model_age(m);
    for (int j = 0; j < p->th; j++) {
        for (int i = 0; i < p->tw; i++) {
            size_t px = sample_pixel(p, i, j, width);
            p->own[j * p->tw + i] = so_static_model_foreground(m)[px] && age[px] > 0 &&
                                    !came_later(m, px, since_s);
        }
    }
    return true;
}

/* Which samples of the place's look are the thing's own (all, when it has no such map) and
 * did not come later (their indices into `kept`); returns how many. */
static int kept_samples(const struct so_place *p, const struct so_static_model *m, int width,
                        double since_s, uint16_t *kept)
{
    int k = 0;
    for (int j = 0; j < p->th; j++) {
        for (int i = 0; i < p->tw; i++) {
            if ((!p->own || p->own[j * p->tw + i]) &&
                !came_later(m, sample_pixel(p, i, j, width), since_s)) {
                kept[k++] = (uint16_t)(j * p->tw + i);
            }
        }
    }
    return k;
}

/* Share of the box's pixels that the static model sees differ from its background, leaving
 * out those that came to rest after `since_s` (NAN: none left out). */
static double foreground_apart(const struct so_static_model *m, int width, struct so_box box,
                               double since_s)
{
    const uint8_t *fg = so_static_model_foreground(m);
    long on = 0, all = 0;
    for (int y = box.y; y < box.y + box.h; y++) {
        for (int x = box.x; x < box.x + box.w; x++) {
            size_t i = (size_t)y * width + x;
            if (isnan(since_s) || !came_later(m, i, since_s)) {
                on += fg[i] != 0;
                all++;
            }
        }
    }
    return all ? (double)on / (double)all : 0;
}

double so_place_foreground_share(const struct so_static_model *m, int width, struct so_box box)
{
    return foreground_apart(m, width, box, NAN);
}

enum so_presence so_place_judge(const struct so_place *p, const struct so_frame *f,
                                const struct so_static_model *m, float *scratch)
{
    return so_place_judge_apart(p, f, m, scratch, NAN);
}

enum so_presence so_place_judge_apart(const struct so_place *p, const struct so_frame *f,
                                      const struct so_static_model *m, float *scratch,
                                      double since_s)
{
    struct so_box b = so_box_clip(p->box, f->width, f->height);
    if (b.w <= 0 || b.h <= 0) {
        return SO_PRESENCE_UNKNOWN;
    }
    int n = p->tw * p->th, k = n;
    uint16_t kept[SO_LOOK_MAX * SO_LOOK_MAX];
    if (!isnan(since_s) && p->look) {
        k = kept_samples(p, m, f->width, since_s, kept);
    }
    bool apart = k < n && k >= SO_PLACE_APART_MIN * n && k >= SO_PLACE_APART_SAMPLES;
    if (!apart) {
        since_s = NAN;  /* nothing came later, or too much did: the whole place */
    }
    struct evidence e = apart ? kept_part(p, f, m, kept, k, scratch)
                              : whole_place(p, f, m, scratch);
    bool hidden = so_static_model_moving_share(m, b.x, b.y, b.w, b.h) >= SO_PLACE_MOVING_MAX;
    if (apart && e.textured && !hidden &&
        parts_look_empty(p, scratch, e.bg > -2 ? scratch + p->tw * p->th : NULL, kept, k)) {
        /* Its own part looks empty again, part by part: a thin thing's look is mostly the
         * ground around it, and matches the empty place as a whole. */
        return SO_PRESENCE_ABSENT;
    }
    if (e.ncc >= SO_PLACE_SAME) {
        return SO_PRESENCE_PRESENT;
    }
    if (hidden) {
        return SO_PRESENCE_UNKNOWN;     /* hidden by what moves in front */
    }
    if (e.textured && e.empty > -2 && looks_empty(e.empty, e.ncc)) {
        return SO_PRESENCE_ABSENT;      /* it looks again like the place before it came */
    }
    if (e.bg > -2 && e.bg_thing >= SO_PLACE_SAME) {
        /* The learnt background there looks like the thing itself: it stood there while the
         * model learnt the place (parked before the analysis began). Looking like the
         * background is then no sign of absence: a car that never moved, seen through a gust
         * or a blur, matched the background better than its own look, and was "gone". */
        return SO_PRESENCE_UNKNOWN;
    }
    if (e.bg >= SO_PLACE_SAME && e.bg > e.ncc + SO_PLACE_MARGIN) {
        /* It looks like the learnt empty place, light-invariantly, whatever the model's
         * foreground says (an exposure ramp while the thing stood: the ground it uncovered is
         * "at rest" in the model, yet it is the same ground). */
        return SO_PRESENCE_ABSENT;
    }
    if (foreground_apart(m, f->width, b, since_s) > SO_PLACE_FG_MAX) {
        return SO_PRESENCE_UNKNOWN;     /* something else than the learnt background */
    }
    /* The place looks like the background. It is empty when the thing's look is gone, or when
     * the place now looks more like the learnt background than like the thing (its look held
     * some of the road around it). A thing that is part of the learnt background itself (parked
     * before the model learnt the place) keeps its look, and was found present above. */
    if (!e.textured || e.ncc < SO_PLACE_OTHER) {
        return SO_PRESENCE_ABSENT;
    }
    if (e.bg > e.ncc + SO_PLACE_MARGIN) {
        return SO_PRESENCE_ABSENT;      /* more like the learnt empty place than like the thing */
    }
    return SO_PRESENCE_UNKNOWN;
}
