/*
 * Why this file exists: every rule reads one picture of what is at rest, built once a frame and
 * shared by all zones: the static mask (age >= PRESENT_AGE_S, cleaned by a morphological
 * open/close) and its connected components ("blobs"), largest first, with the blobs that are
 * light artefacts or the ground a departed object uncovered taken out (and absorbed into the
 * static model's background, so they do not come back).
 *
 * Cost: most frames of most cameras have nothing at rest; then the open/close and the labelling
 * are skipped. Otherwise they run on the box of what is at rest only (see rules_rest_mask).
 */
#include "rules_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "select.h"

#define GHOST_MIN_AGE_S 3.0     /* blobs are judged light artefact or object once settled */
#define GHOST_MAX_AGE_S 6.0     /* ... and never after: an established object is not dropped */
#define GHOST_WINDOW_S 4.0      /* light changing this long before coming to rest counts */
#define GHOST_WINDOW_AFTER_S 1.0    /* ... or up to this long after */
#define DEPARTED_EDGE_RATIO 1.5 /* a blob whose outline is this much stronger in the background */
#define DEPARTED_EDGE_MIN 6.0   /* (plus this) than in the frame is what an object left behind */
#define LIGHT_EDGE_RATIO 1.2    /* a blob whose outline is at most this much stronger in the */
#define LIGHT_EDGE_MIN 4.0      /* frame (plus this) than in the background brought no outline */
#define LIGHT_AROUND_PX 8       /* a blob's light is read this far around it, and this long */
#define LIGHT_AROUND_S 10.0     /* before it came to rest: a cloud's edge does not stop at a gain
                                 * block, and a speck of its shadow can settle late */
#define OUTLINE_STEP 2          /* edges along the outline: differences over +-2 pixels */
#define OUTLINE_MIN_PX 8        /* a blob with less outline than this is not judged */
#define MASK_OPEN_PX 3          /* the mask's opening (specks out) ... */
#define MASK_CLOSE_PX 5         /* ... and closing (pinholes and cracks filled), in pixels */
#define MIN_BLOB_SHARE 0.0002   /* a blob smaller than this share of the frame is noise */
#define MIN_BLOB_PX 4           /* ... and never smaller than this many pixels */
/* The box the mask's open/close and components run on: what is at rest, grown and aligned. */
#define MASK_MARGIN 8
#define MASK_ALIGN 8

double rules_blob_rest_age(struct so_rules *r, const struct socv_blob *b, const float *age)
{
    int n = 0;
    for (int y = b->y; y < b->y + b->h; y++) {
        for (int x = b->x; x < b->x + b->w; x++) {
            size_t i = (size_t)y * r->w + x;
            if (r->labels[i] == b->label) {
                r->buf[n++] = age[i];
            }
        }
    }
    return n ? so_kth_largest(r->buf, n, (3 * n + 3) / 4) : 0;
}

/*
 * Mean edge strength along a blob's outline in the normalised frame and in the background. An
 * object put down brings its outline with it (frame edges); a vanished shadow or a contrast
 * change does not add edges (the background has as many or more). Outline that reaches a
 * burned-in overlay (`overlay`, may be NULL) is not counted: the text is no edge of the scene,
 * and where its pixels are left out of the mask they cut an outline of their own. Returns
 * false if the blob has too little outline to judge.
 */
static bool outline_edges(struct so_rules *r, const struct socv_blob *b, const float *frame,
                          const float *bg, const uint8_t *overlay, double *e_frame,
                          double *e_bg)
{
    int w = r->w, h = r->h;
    double ef = 0, eb = 0;
    int n = 0;
    for (int y = b->y; y < b->y + b->h; y++) {
        for (int x = b->x; x < b->x + b->w; x++) {
            size_t i = (size_t)y * w + x;
            if (r->labels[i] != b->label || x < OUTLINE_STEP || y < OUTLINE_STEP ||
                x >= w - OUTLINE_STEP || y >= h - OUTLINE_STEP) {
                continue;
            }
            if (r->labels[i - 1] == b->label && r->labels[i + 1] == b->label &&
                r->labels[i - w] == b->label && r->labels[i + w] == b->label) {
                continue;   /* interior */
            }
            size_t dx = OUTLINE_STEP, dy = OUTLINE_STEP * (size_t)w;
            if (overlay && (overlay[i] | overlay[i - dx] | overlay[i + dx] | overlay[i - dy] |
                            overlay[i + dy])) {
                continue;
            }
            ef += fabsf(frame[i + dx] - frame[i - dx]) + fabsf(frame[i + dy] - frame[i - dy]);
            eb += fabsf(bg[i + dx] - bg[i - dx]) + fabsf(bg[i + dy] - bg[i - dy]);
            n++;
        }
    }
    if (n < OUTLINE_MIN_PX) {
        return false;
    }
    *e_frame = ef / n;
    *e_bg = eb / n;
    return true;
}

/*
 * Which pixels of an artefact blob are absorbed: only what came to rest with it, so an object
 * the artefact has merged with keeps its age (goods on a lawn a cloud darkens, a bag on a
 * walkway when the camera switches to infrared). What came to rest within the blob's own
 * window (GHOST_WINDOW_S before the blob's rest) came with it; what is older, only if the light
 * over it was changing when it came to rest (the blob's own test, pixel by pixel: a bag put
 * down 6 s before the switch came to rest in steady light). Of both kinds, none older than the
 * artefact can be.
 */
static bool absorbed_px(const struct so_static_model *model, int x, int y, float age,
                        double rest, double now, bool light)
{
    if (age > GHOST_MAX_AGE_S + GHOST_WINDOW_S) {
        return false;
    }
    if (!light || age <= rest + GHOST_WINDOW_S) {
        return true;
    }
    return so_static_model_light_changed(model, x, y, 1, 1, now - age - GHOST_WINDOW_S,
                                         now - age + GHOST_WINDOW_AFTER_S);
}

/*
 * Was the light changing when the blob came to rest (at `rest_s`)? In the gain blocks within
 * LIGHT_AROUND_PX of the blob, from LIGHT_AROUND_S before to GHOST_WINDOW_AFTER_S after: a
 * cloud's edge does not stop at a block (goods_clouds~shake: a 4x5 speck of a cloud's shadow
 * came to rest 2.8 s after the blob beside it that was absorbed, 4.5 s after its own block last
 * saw a change; it held a small zone's 2 % for the rest of the clip). This contains the
 * blob's own window (its box, GHOST_WINDOW_S before). Whether a blob is light is decided with
 * its outline as well: an object put down brings one.
 */
static bool light_over_blob(const struct so_static_model *model, const struct socv_blob *bl,
                            double rest_s, double now)
{
    double after = rest_s + GHOST_WINDOW_AFTER_S < now ? rest_s + GHOST_WINDOW_AFTER_S : now;
    return so_static_model_light_changed(model, bl->x - LIGHT_AROUND_PX, bl->y - LIGHT_AROUND_PX,
                                         bl->w + 2 * LIGHT_AROUND_PX,
                                         bl->h + 2 * LIGHT_AROUND_PX, rest_s - LIGHT_AROUND_S,
                                         after);
}

/* Is every pixel of the blob within an overlay's reach (overlay: may be NULL)? */
static bool within_overlay(const struct so_rules *r, const struct socv_blob *bl,
                           const uint8_t *overlay)
{
    if (!overlay) {
        return false;
    }
    for (int y = bl->y; y < bl->y + bl->h; y++) {
        for (int x = bl->x; x < bl->x + bl->w; x++) {
            size_t i = (size_t)y * r->w + x;
            if (r->labels[i] == bl->label && !overlay[i]) {
                return false;
            }
        }
    }
    return true;
}

/*
 * Artefacts absorbed into the background, judged on a static blob's outline once it has settled
 * (GHOST_MIN_AGE_S) and never after GHOST_MAX_AGE_S, so an established object is not dropped
 * later:
 * - light: it came to rest while the light over it was changing and its outline has no more
 *   edges in the frame than in the background (a vanished cast shadow, a contrast change);
 * - departed: its outline is much stronger in the background than in the frame. That is the
 *   ground an object uncovered when it left, where the object was part of the learnt background
 *   (a stall or a car already there at start-up: the warm-up median learnt it). An object put
 *   down brings its outline into the frame instead.
 */
static void remove_light_artefacts(struct so_rules *r, struct so_static_model *model,
                                   double now)
{
    const float *age = so_static_model_age(model);
    const float *frame = so_static_model_frame(model);
    const float *bg = so_static_model_background(model);
    const uint8_t *overlay = so_static_model_overlay(model);
    bool any = false;
    int kept = 0;
    for (int b = 0; b < r->n_blobs; b++) {
        const struct socv_blob *bl = &r->blobs[b];
        double rest = rules_blob_rest_age(r, bl, age), e_frame = 0, e_bg = 0;
        /* What lies wholly in an overlay's reach is the overlay mixed with the scene by the
         * blur, at rest when the light changed: learnt as it is, at once. */
        bool text = within_overlay(r, bl, overlay);
        if (!text && (rest < GHOST_MIN_AGE_S || rest > GHOST_MAX_AGE_S ||
                      !outline_edges(r, bl, frame, bg, overlay, &e_frame, &e_bg))) {
            r->blobs[kept++] = *bl;
            continue;
        }
        bool departed = !text && e_bg > DEPARTED_EDGE_RATIO * e_frame + DEPARTED_EDGE_MIN;
        bool light = !text && !departed && e_frame <= LIGHT_EDGE_RATIO * e_bg + LIGHT_EDGE_MIN &&
                     light_over_blob(model, bl, now - rest, now);
        if (!text && !departed && !light) {
            r->blobs[kept++] = *bl;
            continue;
        }
        if (!any) {
            memset(r->ghost, 0, (size_t)r->w * r->h);
            any = true;
        }
        for (int y = bl->y; y < bl->y + bl->h; y++) {
            for (int x = bl->x; x < bl->x + bl->w; x++) {
                size_t i = (size_t)y * r->w + x;
                if (r->labels[i] == bl->label &&
                    (text || absorbed_px(model, x, y, age[i], rest, now, light))) {
                    r->ghost[i] = 255;
                    r->mask[i] = 0;
                    r->labels[i] = 0;
                }
            }
        }
        so_debug(r->cam->id, "blob at %d,%d %dx%d %s (edges %.1f, background %.1f): absorbed",
                 bl->x, bl->y, bl->w, bl->h,
                 text ? "lies in the reach of a burned-in overlay"
                 : departed ? "is background an object left from (its outline is in the "
                              "background, not in the frame)"
                            : "came to rest while the light changed and brought no outline",
                 e_frame, e_bg);
    }
    r->n_blobs = kept;
    if (any) {
        so_static_model_absorb(model, r->ghost);
    }
}

static int cmp_blob_area(const void *a, const void *b)
{
    const struct socv_blob *x = a, *y = b;
    return (y->area > x->area) - (y->area < x->area);
}

/*
 * Nothing at rest (most frames of most cameras): the open/close of an empty mask is empty and it
 * has no components, so both are skipped. The labels are only read for blobs, and there are
 * none. Otherwise both run on the box of what is at rest, grown by MASK_MARGIN and aligned to
 * MASK_ALIGN: the same result as on the whole mask (an opening and a closing of 3 and 5 pixels
 * reach 4 pixels beyond the box, and the labeller's 2x2 blocks and scan order are those of the
 * whole mask), at the cost of the box. Labels outside it are stale, and no blob reaches there.
 */
void rules_rest_mask(struct so_rules *r, struct so_static_model *model, double now)
{
    const float *age = so_static_model_age(model);
    size_t n = (size_t)r->w * r->h;
    /* The mask, and the rows and columns where it has anything. */
    int x0 = r->w, x1 = -1, y0 = r->h, y1 = -1;
    for (int y = 0; y < r->h; y++) {
        const float *a = age + (size_t)y * r->w;
        uint8_t *m = r->mask + (size_t)y * r->w;
        bool row = false;
        for (int x = 0; x < r->w; x++) {
            bool on = a[x] >= PRESENT_AGE_S;
            m[x] = on ? 255 : 0;
            row |= on;
        }
        if (row) {
            int first = 0, last = r->w - 1;
            while (!m[first]) {
                first++;
            }
            while (!m[last]) {
                last--;
            }
            x0 = first < x0 ? first : x0;
            x1 = last > x1 ? last : x1;
            y0 = y < y0 ? y : y0;
            y1 = y;
        }
    }
    r->n_blobs = 0;
    if (x1 >= 0) {
        x0 = (x0 - MASK_MARGIN > 0 ? x0 - MASK_MARGIN : 0) / MASK_ALIGN * MASK_ALIGN;
        y0 = (y0 - MASK_MARGIN > 0 ? y0 - MASK_MARGIN : 0) / MASK_ALIGN * MASK_ALIGN;
        x1 = x1 + MASK_MARGIN < r->w - 1 ? x1 + MASK_MARGIN : r->w - 1;
        y1 = y1 + MASK_MARGIN < r->h - 1 ? y1 + MASK_MARGIN : r->h - 1;
        size_t at = (size_t)y0 * r->w + x0;
        struct socv_view mv = {r->mask + at, x1 - x0 + 1, y1 - y0 + 1, r->w, 1};
        socv_mask_open_close(&mv, MASK_OPEN_PX, MASK_CLOSE_PX);
        int min_blob = (int)(MIN_BLOB_SHARE * (double)n);
        int min_px = min_blob > MIN_BLOB_PX ? min_blob : MIN_BLOB_PX;
        if (socv_mask_components(&mv, r->labels + at, r->w, min_px,
                                 r->blobs, MAX_BLOBS, &r->n_blobs) != SOCV_OK) {
            so_warn(r->cam->id, "connected components failed: %s", socv_last_error());
            r->n_blobs = 0;
        }
        for (int i = 0; i < r->n_blobs; i++) {
            r->blobs[i].x += x0;
            r->blobs[i].y += y0;
        }
    }
    /* Largest first: a vehicle's main blob claims its track before its fragments do. */
    qsort(r->blobs, (size_t)r->n_blobs, sizeof(r->blobs[0]), cmp_blob_area);
    remove_light_artefacts(r, model, now);
}
