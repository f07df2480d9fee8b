/*
 * View check: is the camera still looking at the scene its zones were drawn on?
 *
 * Per analysis frame it compares a small thumbnail of the grey frame with a reference view
 * learnt once the camera started (and refreshed slowly while the view is normal), and says:
 *   - tampered: the lens is covered (a near-uniform picture) or defocused (fine edges fell to
 *     a small fraction of the reference's);
 *   - moved: the scene no longer matches the reference (a PTZ camera turned to another preset,
 *     the camera knocked), robust to a global gain change and to objects over part of it;
 *   - normal (or learning, the first seconds).
 * A state is entered after `enter_s` of bad frames and left after `leave_s` of good ones, so a
 * bus filling part of the view for a second never counts. A camera moved for `adopt_s` has its
 * current view adopted as the new reference (a preset changed on purpose): the result says so
 * and the caller restarts its analysis.
 *
 * Ownership: the checker owns its buffers; results are value types. Not thread-safe: one
 * analysis thread per checker. No allocation after create.
 */
#ifndef SO_ANALYSIS_VIEW_CHECK_H
#define SO_ANALYSIS_VIEW_CHECK_H

#include <stdbool.h>
#include <stdint.h>

struct so_view_params {
    double learn_s;         /* reference = mean view over this first period (4) */
    double enter_s;         /* bad frames this long enter moved / tampered (2) */
    double leave_s;         /* good frames this long return to normal (2) */
    double adopt_s;         /* moved this long: adopt the current view (60; 0 = never) */
    double refresh_tau_s;   /* time constant of the reference refresh while normal (120) */
    double match_min;       /* scene match (median block ZNCC of gradients) below: moved (0.4) */
    double sharp_min;       /* fine-edge energy below this share of the reference: blur (0.55) */
    double cover_contrast;  /* thumbnail std-dev (grey levels) below: covered (6) ... */
    double cover_share;     /* ... and below this share of the reference's (0.35) */
};

/* Fill defaults. */
void so_view_params_default(struct so_view_params *p);

enum so_view_state {
    SO_VIEW_LEARNING = 0,   /* no reference yet: frames are taken as good */
    SO_VIEW_NORMAL,
    SO_VIEW_MOVED,
    SO_VIEW_TAMPERED,
};

/* "learning", "normal", "moved", "tampered". */
const char *so_view_state_name(enum so_view_state s);

struct so_view_result {
    enum so_view_state state;   /* after this frame */
    bool changed;               /* state differs from the previous frame's */
    bool frame_ok;              /* state learning/normal and this frame matches: analyse it */
    bool adopted;               /* the reference was just replaced by the current view */
    double match;               /* scene match against the reference, -1..1 (1 while learning) */
    double sharpness;           /* fine-edge energy / the reference's (1 while learning) */
    double contrast;            /* thumbnail std-dev, grey levels */
    char reason[112];           /* why the state is what it is (short, for health detail) */
};

struct so_view_check;

/* A checker for width x height frames (both >= 16); NULL when out of memory or bad size.
 * `params` may be NULL for defaults (copied). */
struct so_view_check *so_view_check_create(int width, int height,
                                           const struct so_view_params *params);

/* Accepts NULL. */
void so_view_check_destroy(struct so_view_check *v);

/*
 * Feed one grey frame (`stride` bytes per row) at media time `media_s` (monotonic seconds)
 * and classify it into `out`. Returns 0, or -EINVAL on bad input (out untouched).
 */
int so_view_check_update(struct so_view_check *v, const uint8_t *gray, int stride,
                         double media_s, struct so_view_result *out);

/*
 * Where did the scene of `ref` (a float image w x h, row-major: the static model's background)
 * go in `gray` (same size, `stride` bytes per row)? Finds the integer shift within
 * +-max_shift pixels that best aligns their gradients (ZNCC on a 2-pixel grid): content at
 * ref (x, y) is at gray (x + *dx, y + *dy). For a camera that came back to its preset a few
 * pixels off. Returns the ZNCC at that shift (-1..1), or -2 on bad arguments. Costs about
 * w*h/4*(2*max_shift+1)^2 multiply-adds: call it on a state change, not on every frame.
 */
double so_view_align(const float *ref, const uint8_t *gray, int stride, int w, int h,
                     int max_shift, int *dx, int *dy);

#endif
