/*
 * One network per process (detect/netpool.c, detect/netshare.c, so_detector_create_shared):
 * - cameras sharing one network get exactly the detections (same boxes, classes, scores to the
 *   bit) that a network of their own gives, for each backend, on the shared images and clip
 *   frames, whole frame and close-up;
 * - 4 threads looking at once through a pool of 2 instances get those same detections;
 * - looks are served first come, first served: a camera that looks again at once queues behind
 *   the cameras already waiting (fairness), and each camera's waits are counted;
 * - the share loads a network once per model and backend, counts references (a camera's
 *   restart while others hold it does not reload it), frees it with the last user, and grows
 *   its instances only when looks overlap.
 * Without the shared assets the cases skip (TAP skip, so_test_require_assets) unless CI is set.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detector.h"
#include "frame.h"
#include "grab.h"
#include "model.h"
#include "netpool.h"
#include "netshare.h"
#include "socv_imgio.h"
#include "testlib.h"
#include "timeutil.h"

#define MAX_DET 128
#define MAX_INPUTS 8

static const char *const images[] = {"street.png", "bus.jpg"};
static const struct {
    const char *clip;
    double at_s;
} frames[] = {
    {"augmented/parked_row.mp4", 12},
    {"augmented/stall_day.mp4", 8},
    {"pets2001_ds3_cam1/pets2001_ds3_cam1_320x240.mp4", 20},
};

/* The inputs: images and clip frames, each looked at whole and through a close-up. */
struct input {
    char what[PATH_MAX + 64];
    struct so_image img;
    uint8_t *px;                /* an image's pixels (free) */
    struct so_frame *frame;     /* a clip frame (unref) */
};

static struct input inputs[MAX_INPUTS];
static int n_inputs;

static void load_inputs(const char *assets)
{
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
        struct input *in = &inputs[n_inputs];
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/images/%s", assets, images[i]);
        int w, h, stride;
        if (so_test_check(socv_image_read(path, &in->px, &w, &h, &stride) == SOCV_OK, __FILE__,
                          __LINE__, "read %s", path)) {
            in->img = (struct so_image){in->px, w, h, stride};
            snprintf(in->what, sizeof(in->what), "%s", images[i]);
            n_inputs++;
        }
    }
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        struct input *in = &inputs[n_inputs];
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/clips/%s", assets, frames[i].clip);
        struct so_grab_opts o = {.url = path, .camera_id = "test", .media_s = frames[i].at_s,
                                 .deadline_mono = so_time_mono() + 60};
        if (so_test_check(so_grab_still(&o, &in->frame) == 0, __FILE__, __LINE__, "grab %s",
                          path)) {
            struct so_frame *f = in->frame;
            in->img = (struct so_image){f->bgr, f->width, f->height, f->bgr_stride};
            snprintf(in->what, sizeof(in->what), "%s at %.0f s", frames[i].clip,
                     frames[i].at_s);
            n_inputs++;
        }
    }
}

static void free_inputs(void)
{
    for (int i = 0; i < n_inputs; i++) {
        free(inputs[i].px);
        so_frame_unref(inputs[i].frame);
    }
}

/* What one camera gets for input i, whole (roi 0) or close-up (roi 1). */
struct result {
    struct so_detection d[MAX_DET];
    int n;
    int rc;
};

static void look(struct so_detector *det, int i, int roi, struct result *out)
{
    const struct so_image *img = &inputs[i].img;
    struct so_box r = {img->width / 4, img->height / 5, img->width / 2, img->height / 2};
    out->rc = so_detector_run(det, img, roi ? &r : NULL, NULL, out->d, MAX_DET, &out->n);
}

/* Identical detections, to the bit (class, role, box, score). */
static bool same(const struct result *a, const struct result *b)
{
    if (a->rc != b->rc || a->n != b->n) {
        return false;
    }
    for (int k = 0; k < a->n; k++) {
        const struct so_detection *x = &a->d[k], *y = &b->d[k];
        if (x->class_id != y->class_id || x->role != y->role || x->score != y->score ||
            memcmp(&x->box, &y->box, sizeof(x->box)) != 0) {
            return false;
        }
    }
    return true;
}

/* The reference: what a network of its own gives (today's one detector per camera). */
static struct result reference[MAX_INPUTS][2];

static void make_reference(const struct so_model_desc *m, enum so_detect_backend be)
{
    char err[1024] = "";
    struct so_detector *own = so_detector_create_backend(m, be, 1, err, sizeof(err));
    if (!so_test_check(own != NULL, __FILE__, __LINE__, "own detector: %s", own ? "" : err)) {
        return;
    }
    for (int i = 0; i < n_inputs; i++) {
        for (int roi = 0; roi < 2; roi++) {
            look(own, i, roi, &reference[i][roi]);
            CHECK_INT(reference[i][roi].rc, 0);
        }
    }
    so_detector_destroy(own);
}

/* Two cameras on one shared network, interleaved, against networks of their own. */
static void test_two_cameras(const struct so_model_desc *m, enum so_detect_backend be)
{
    char err[1024] = "";
    struct so_netshare *share = so_netshare_create(2);
    struct so_detector *a = so_detector_create_shared(share, m, be, err, sizeof(err));
    struct so_detector *b = so_detector_create_shared(share, m, be, err, sizeof(err));
    if (!so_test_check(a && b, __FILE__, __LINE__, "shared detectors: %s", err)) {
        goto out;
    }
    CHECK_INT(so_netshare_count(share), 1);
    CHECK_STR(so_detector_backend(a), so_detect_backend_name(be));
    int differ = 0;
    for (int i = 0; i < n_inputs; i++) {
        for (int roi = 0; roi < 2; roi++) {
            struct result ra, rb;
            look(a, i, roi, &ra);
            look(b, i, roi, &rb);
            bool ok = same(&ra, &reference[i][roi]) && same(&rb, &reference[i][roi]);
            differ += !ok;
            so_test_check(ok, __FILE__, __LINE__, "%s, %s%s: camera a %d, b %d detections, "
                          "own network %d (identical)", so_detect_backend_name(be),
                          inputs[i].what, roi ? " (close-up)" : "", ra.n, rb.n,
                          reference[i][roi].n);
        }
    }
    CHECK_INT(differ, 0);
    struct so_look_stats la, lb;
    so_detector_look_stats(a, &la);
    so_detector_look_stats(b, &lb);
    CHECK_INT((int)la.looks, 2 * n_inputs);
    CHECK_INT((int)lb.looks, 2 * n_inputs);
    CHECK_INT((int)(la.waited + lb.waited), 0);     /* one thread: nobody ever waited */
    CHECK(la.cpu_s > 0);
out:
    so_detector_destroy(a);
    so_detector_destroy(b);
    CHECK_INT(so_netshare_count(share), 0);
    so_netshare_destroy(share);
}

/* The pool's counts, one at a time. */
static int instances(struct so_netpool *p)
{
    int n, q;
    so_netpool_counts(p, &n, &q);
    return n;
}

static int queued(struct so_netpool *p)
{
    int n, q;
    so_netpool_counts(p, &n, &q);
    return q;
}

/* 4 cameras (threads) through a pool of 2 instances, each looking at the inputs in its own
 * order, several rounds. */
#define THREADS 4
#define ROUNDS 3

struct cam {
    struct so_detector *det;
    int index;
    int mismatches, failures;
};

static void *camera_main(void *arg)
{
    struct cam *c = arg;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < 2 * n_inputs; k++) {
            int j = (k + c->index * 3) % (2 * n_inputs);
            int i = j / 2, roi = j % 2;
            struct result r;
            look(c->det, i, roi, &r);
            c->failures += r.rc != 0;
            c->mismatches += !same(&r, &reference[i][roi]);
        }
    }
    return NULL;
}

static void test_threads(const struct so_model_desc *m, enum so_detect_backend be)
{
    char err[1024] = "";
    struct so_netshare *share = so_netshare_create(2);
    struct cam cams[THREADS] = {{0}};
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        cams[t].index = t;
        cams[t].det = so_detector_create_shared(share, m, be, err, sizeof(err));
        if (!so_test_check(cams[t].det != NULL, __FILE__, __LINE__, "detector %d: %s", t, err)) {
            goto out;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        CHECK(pthread_create(&th[t], NULL, camera_main, &cams[t]) == 0);
    }
    uint64_t waited = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        so_test_check(cams[t].failures == 0 && cams[t].mismatches == 0, __FILE__, __LINE__,
                      "%s, thread %d: %d failures, %d of %d looks differ from a network of its "
                      "own", so_detect_backend_name(be), t, cams[t].failures, cams[t].mismatches,
                      ROUNDS * 2 * n_inputs);
        struct so_look_stats ls;
        so_detector_look_stats(cams[t].det, &ls);
        CHECK_INT((int)ls.looks, ROUNDS * 2 * n_inputs);
        waited += ls.waited;
    }
    struct so_netpool *pool = so_netshare_get(share, m, be, err, sizeof(err));
    int n = pool ? instances(pool) : -1;
    so_test_check(n >= 1 && n <= 2, __FILE__, __LINE__, "%d instances for 4 threads (at most 2); "
                  "%llu looks waited", n, (unsigned long long)waited);
    so_netshare_put(share, pool);
out:
    for (int t = 0; t < THREADS; t++) {
        so_detector_destroy(cams[t].det);
    }
    so_netshare_destroy(share);
}

/* Fairness on a pool of one instance: the order in which leases are granted. */
struct fair {
    struct so_netpool *pool;
    pthread_mutex_t lock;
    char order[16];
    int n;
    struct so_netpool_lease lease[8];
};

static void granted(struct fair *f, char who, const struct so_netpool_lease *l)
{
    pthread_mutex_lock(&f->lock);
    f->lease[f->n] = *l;
    f->order[f->n++] = who;
    pthread_mutex_unlock(&f->lock);
}

static void *busy_main(void *arg)
{
    struct fair *f = arg;
    for (int k = 0; k < 3; k++) {      /* looks again as soon as it is served */
        struct so_netpool_lease l;
        so_netpool_acquire(f->pool, &l);
        granted(f, 'B', &l);
        so_netpool_release(f->pool, &l);
    }
    return NULL;
}

static void *rare_main(void *arg)
{
    struct fair *f = arg;
    struct so_netpool_lease l;
    so_netpool_acquire(f->pool, &l);
    granted(f, 'R', &l);
    so_netpool_release(f->pool, &l);
    return NULL;
}

static void wait_queued(struct so_netpool *p, int n)
{
    for (int k = 0; k < 2000 && queued(p) < n; k++) {
        so_test_sleep(0.005);
    }
}

static void test_fairness(const struct so_model_desc *m)
{
    char err[1024] = "";
    struct fair f = {.pool = so_netpool_create(m, SO_DETECT_BACKEND_DEFAULT, 1, 1, err,
                                               sizeof(err))};
    if (!so_test_check(f.pool != NULL, __FILE__, __LINE__, "pool: %s", f.pool ? "" : err)) {
        return;
    }
    pthread_mutex_init(&f.lock, NULL);
    struct so_netpool_lease mine;
    so_netpool_acquire(f.pool, &mine);
    CHECK(!mine.waited);
    pthread_t busy, rare;
    CHECK(pthread_create(&busy, NULL, busy_main, &f) == 0);
    wait_queued(f.pool, 1);             /* the busy camera waits first... */
    CHECK(pthread_create(&rare, NULL, rare_main, &f) == 0);
    wait_queued(f.pool, 2);             /* ...then the rare one */
    CHECK_INT(queued(f.pool), 2);
    so_test_sleep(0.02);
    so_netpool_release(f.pool, &mine);
    pthread_join(busy, NULL);
    pthread_join(rare, NULL);
    f.order[f.n] = '\0';
    /* served in the order asked: the busy camera's second look queues behind the rare one */
    CHECK_STR(f.order, "BRBB");
    CHECK(f.lease[0].waited && f.lease[0].wait_s >= 0.02);
    CHECK(f.lease[1].waited && f.lease[1].wait_s >= 0.02);
    CHECK_INT(instances(f.pool), 1);
    CHECK_INT(queued(f.pool), 0);
    pthread_mutex_destroy(&f.lock);
    so_netpool_destroy(f.pool);
}

/* References: one load per model and backend, shared, freed with its last user. */
static void test_share(const struct so_model_desc *m, const char *name)
{
    char err[1024] = "";
    struct so_netshare *s = so_netshare_create(3);
    struct so_netpool *a = so_netshare_get(s, m, SO_DETECT_BACKEND_XNNPACK, err, sizeof(err));
    struct so_netpool *b = so_netshare_get(s, m, SO_DETECT_BACKEND_DEFAULT, err, sizeof(err));
    CHECK(a != NULL && a == b);     /* default = xnnpack in this build */
    /* another copy of the descriptor (a config reloaded with the same model): the same net */
    struct so_model_desc *copy = so_model_open(name, NULL, err, sizeof(err));
    struct so_netpool *c = copy ? so_netshare_get(s, copy, SO_DETECT_BACKEND_XNNPACK, err,
                                                  sizeof(err)) : NULL;
    CHECK(c == a);
    so_netshare_put(s, c);
    so_model_destroy(copy);
    struct so_netpool *cv = so_netshare_get(s, m, SO_DETECT_BACKEND_OPENCV, err, sizeof(err));
    CHECK(cv != NULL && cv != a);
    CHECK_INT(so_netshare_count(s), 2);
    so_netshare_put(s, cv);
    CHECK_INT(so_netshare_count(s), 1);
    /* a camera restarts while another holds the network: not reloaded */
    so_netshare_put(s, b);
    CHECK_INT(so_netshare_count(s), 1);
    struct so_netpool *again = so_netshare_get(s, m, SO_DETECT_BACKEND_XNNPACK, err,
                                               sizeof(err));
    CHECK(again == a);
    CHECK_INT(instances(a), 1);  /* no overlapping looks: no second instance */
    so_netshare_put(s, again);
    so_netshare_put(s, a);
    CHECK_INT(so_netshare_count(s), 0);
    so_netshare_put(s, NULL);
    so_netshare_destroy(s);
    so_netshare_destroy(NULL);
    /* the detector's side of errors */
    CHECK(so_detector_create_shared(NULL, m, SO_DETECT_BACKEND_DEFAULT, err, sizeof(err)) ==
          NULL);
    struct so_look_stats z;
    so_detector_look_stats(NULL, &z);
    CHECK(z.looks == 0 && z.waited == 0);
}

int main(void)
{
    so_test_require_assets();
    const char *name = "yolo-fastest-1.1-xl";
    char err[2048];
    struct so_model_desc *m = so_model_open(name, NULL, err, sizeof(err));
    if (!so_test_check(m != NULL, __FILE__, __LINE__, "open %s: %s", name, m ? "" : err)) {
        return so_test_done();
    }
    load_inputs(so_test_assets());
    static const enum so_detect_backend backends[] = {SO_DETECT_BACKEND_XNNPACK,
                                                      SO_DETECT_BACKEND_OPENCV};
    for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
        if (!so_detect_backend_available(backends[b])) {
            continue;
        }
        make_reference(m, backends[b]);
        test_two_cameras(m, backends[b]);
        test_threads(m, backends[b]);
    }
    test_fairness(m);
    if (so_detect_backend_available(SO_DETECT_BACKEND_XNNPACK)) {
        test_share(m, name);
    }
    free_inputs();
    so_model_destroy(m);
    return so_test_done();
}
