/*
 * Unit tests for detector/http/live.c, what the analysis thread publishes for the HTTP server:
 * the episode counters, the latency histogram (one table row per bucket edge), the latest
 * frame as a reference (taken, handed to readers, dropped when replaced or finished), the
 * track boxes, the stationary mask and its once-a-second refresh, the fps figures and their
 * staleness, and one thread publishing while another reads consistent views. Every frame's
 * reference count is checked at the end; ASan and the leak checker run this test in CI.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "testlib.h"
#include "timeutil.h"

#define W 32
#define H 24

static struct so_frame *frame_at(double media_s, int64_t index)
{
    struct so_frame *f = so_frame_alloc(W, H);
    if (!f) {
        abort();
    }
    memset(f->gray, 100, (size_t)f->gray_stride * H);
    f->media_s = media_s;
    f->index = index;
    return f;
}

static int refs(struct so_frame *f)
{
    return atomic_load(&f->refs);
}

static void test_counters(void)
{
    printf("# case: episode counters\n");
    struct so_live l;
    so_live_init(&l);
    static const struct {
        enum so_episode_action action;
        bool warned;
    } reports[] = {
        {SO_EPISODE_OPENED, false}, {SO_EPISODE_UPDATE, false}, {SO_EPISODE_OPENED, false},
        {SO_EPISODE_CLEARED_NOW, false}, {SO_EPISODE_NONE, false},
        /* warn_s: two warnings, one became a case (its update and cleared count as before),
         * the other was cleared with no case */
        {SO_EPISODE_WARNING, true}, {SO_EPISODE_WARNING, true}, {SO_EPISODE_OPENED, true},
        {SO_EPISODE_UPDATE, true}, {SO_EPISODE_CLEARED_NOW, true},
        {SO_EPISODE_WARNING_CLEARED, true},
    };
    for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
        so_live_count(&l, reports[i].action, reports[i].warned);
    }
    CHECK_INT(atomic_load(&l.episodes_opened), 3);
    CHECK_INT(atomic_load(&l.episodes_cleared), 2);
    CHECK_INT(atomic_load(&l.warnings_issued), 2);
    CHECK_INT(atomic_load(&l.warnings_opened), 1);
    CHECK_INT(atomic_load(&l.warnings_cleared), 1);
    so_live_finish(&l);
    so_live_finish(NULL);
}

struct latency_case {
    double analysis_s;
    int bucket;             /* index into latency_le; SO_LIVE_N_BUCKETS = +Inf */
    uint64_t ns;
};

/* A bucket holds latencies up to and including its upper bound. */
static const struct latency_case latency_cases[] = {
    {0.0005, 0, 500000},
    {0.001, 0, 1000000},
    {0.003, 2, 3000000},
    {0.1, 6, 100000000},
    {4.0, 11, 4000000000},
    {10.0, SO_LIVE_N_BUCKETS, 10000000000},
    {-1.0, 0, 0},           /* a clock step backwards counts as 0 */
};

static void test_latency(void)
{
    printf("# case: latency histogram\n");
    struct so_live l;
    so_live_init(&l);
    struct so_frame *f = frame_at(0, 0);
    uint64_t sum = 0;
    size_t n = sizeof(latency_cases) / sizeof(latency_cases[0]);
    for (size_t i = 0; i < n; i++) {
        const struct latency_case *c = &latency_cases[i];
        uint64_t before = atomic_load(&l.latency_le[c->bucket]);
        so_live_publish(&l, f, c->analysis_s, (int)i, NULL, 0, NULL, 0);
        so_test_check(atomic_load(&l.latency_le[c->bucket]) == before + 1, __FILE__, __LINE__,
                      "%g s goes to bucket %d", c->analysis_s, c->bucket);
        CHECK_DBL((double)atomic_load(&l.latency_last_ns), (double)c->ns, 1); /* rounding */
        CHECK_INT(atomic_load(&l.episodes_open), i);
        sum += c->ns;
    }
    CHECK_INT(atomic_load(&l.latency_count), n);
    CHECK_DBL((double)atomic_load(&l.latency_sum_ns), (double)sum, (double)n);
    uint64_t total = 0;
    for (int b = 0; b <= SO_LIVE_N_BUCKETS; b++) {
        total += atomic_load(&l.latency_le[b]);
    }
    CHECK_INT(total, n);
    CHECK_INT(refs(f), 2);      /* ours and the live one, however often published */
    so_live_finish(&l);
    CHECK_INT(refs(f), 1);
    so_frame_unref(f);
}

/* The latest frame is shared by reference: taken on publish, dropped when replaced, and a
 * reader's view keeps its own until it finishes the view. */
static void test_frame_refs(void)
{
    printf("# case: frame references\n");
    struct so_live l;
    so_live_init(&l);
    struct so_live_view v;
    so_live_get(&l, true, &v);
    CHECK(v.frame == NULL && v.n_boxes == 0 && v.static_mask == NULL);
    so_live_view_finish(&v);

    struct so_frame *a = frame_at(0, 0), *b = frame_at(0.1, 1);
    so_live_publish(&l, a, 0.01, 0, NULL, 0, NULL, 1);
    CHECK_INT(refs(a), 2);
    so_live_get(&l, false, &v);
    CHECK(v.frame == NULL);     /* not asked for */
    so_live_view_finish(&v);
    CHECK_INT(refs(a), 2);
    so_live_get(&l, true, &v);
    CHECK(v.frame == a);
    CHECK_INT(refs(a), 3);
    so_live_publish(&l, b, 0.01, 0, NULL, 0, NULL, 2);
    CHECK_INT(refs(a), 2);      /* ours and the view's */
    CHECK_INT(refs(b), 2);
    CHECK(v.frame == a);        /* the view is a snapshot */
    so_live_view_finish(&v);
    CHECK(v.frame == NULL);
    CHECK_INT(refs(a), 1);
    so_live_finish(&l);
    CHECK_INT(refs(b), 1);
    so_frame_unref(a);
    so_frame_unref(b);
}

/* Present tracks become boxes (at most SO_LIVE_MAX_BOXES); absent ones are left out. */
/* The network's last look: boxes with their class names copied (the model's strings may go
 * with a reload), at most SO_LIVE_MAX_BOXES, none before the first look. */
static void test_detections(void)
{
    printf("# case: the network's last look\n");
    struct so_live l;
    so_live_init(&l);
    struct so_frame *f = frame_at(0, 0);
    so_live_publish(&l, f, 0.01, 0, NULL, 0, NULL, 1);
    struct so_live_view v;
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_dets, 0);
    CHECK(v.dets_media_s < 0);
    so_live_view_finish(&v);
    struct so_detection d[SO_LIVE_MAX_BOXES + 4];
    char name[8] = "car";
    for (int i = 0; i < SO_LIVE_MAX_BOXES + 4; i++) {
        d[i] = (struct so_detection){.box = {i, 2 * i, 30, 20}, .class_name = i ? name : NULL,
                                     .score = 0.5f};
    }
    so_live_publish_detections(&l, d, 2, 12.5);
    name[0] = 'x';      /* the source string changes: the published copy does not */
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_dets, 2);
    CHECK_DBL(v.dets_media_s, 12.5, 1e-9);
    CHECK_STR(v.dets[0].cls, "?");
    CHECK_STR(v.dets[1].cls, "car");
    CHECK(v.dets[1].x == 1 && v.dets[1].y == 2 && v.dets[1].w == 30 && v.dets[1].h == 20);
    so_live_view_finish(&v);
    so_live_publish_detections(&l, d, SO_LIVE_MAX_BOXES + 4, 13.0);
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_dets, SO_LIVE_MAX_BOXES);
    so_live_view_finish(&v);
    so_live_finish(&l);
    so_frame_unref(f);
}

static void test_boxes(void)
{
    printf("# case: track boxes\n");
    struct so_live l;
    so_live_init(&l);
    struct so_track tracks[SO_LIVE_MAX_BOXES + 10];
    int n = (int)(sizeof(tracks) / sizeof(tracks[0]));
    for (int i = 0; i < n; i++) {
        tracks[i] = (struct so_track){.id = 100 + i, .box = {i, i + 1, 10 + i, 20 + i},
                                      .present = i != 1, .stationary = i % 3 == 0};
    }
    struct so_frame *f = frame_at(0, 0);
    so_live_publish(&l, f, 0.01, 0, tracks, 3, NULL, 1);
    struct so_live_view v;
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_boxes, 2);
    CHECK(v.boxes[0].x == 0 && v.boxes[0].y == 1 && v.boxes[0].w == 10 && v.boxes[0].h == 20);
    CHECK(v.boxes[0].track == 100 && v.boxes[0].stationary);
    CHECK(v.boxes[1].x == 2 && v.boxes[1].track == 102 && !v.boxes[1].stationary);
    so_live_view_finish(&v);

    so_live_publish(&l, f, 0.01, 0, tracks, n, NULL, 2);
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_boxes, SO_LIVE_MAX_BOXES);
    CHECK_INT(v.boxes[SO_LIVE_MAX_BOXES - 1].track, 100 + SO_LIVE_MAX_BOXES);
    so_live_view_finish(&v);

    so_live_publish(&l, f, 0.01, 0, NULL, 0, NULL, 3);   /* no detector: no boxes */
    so_live_get(&l, true, &v);
    CHECK_INT(v.n_boxes, 0);
    so_live_view_finish(&v);
    so_live_finish(&l);
    CHECK_INT(refs(f), 1);
    so_frame_unref(f);
}

static int count_static(const uint8_t *mask, const float *age, int *mismatch)
{
    int n = 0;
    *mismatch = 0;
    for (int i = 0; i < W * H; i++) {
        n += mask[i] == 255;
        *mismatch += mask[i] != (age[i] >= SO_LIVE_STATIC_AGE_S ? 255 : 0);
    }
    return n;
}

/* The stationary mask: pixels at rest SO_LIVE_STATIC_AGE_S or longer, refreshed once a second
 * of media time, a copy for each reader, dropped when the frame size changes. */
static void test_mask(void)
{
    printf("# case: stationary mask\n");
    struct so_static_params params;
    so_static_params_default(&params);
    struct so_static_model *m = so_static_model_create(W, H, &params);
    if (!CHECK(m != NULL)) {
        return;
    }
    struct so_live l;
    so_live_init(&l);
    double t = 0;
    for (; t < 20; t += 0.2) {
        struct so_frame *f = frame_at(t, 0);
        for (int y = 8; t >= 10 && y < 16; y++) {
            memset(f->gray + (size_t)y * f->gray_stride + 8, 220, 12);    /* parked */
        }
        so_static_model_update(m, f->gray, f->gray_stride, t);
        so_live_publish(&l, f, 0.01, 0, NULL, 0, m, 1);
        so_frame_unref(f);
    }
    struct so_live_view v;
    so_live_get(&l, true, &v);
    CHECK(v.static_mask != NULL && v.mask_w == W && v.mask_h == H);
    CHECK(v.static_mask != l.static_mask);  /* a copy */
    int mismatch = 0;
    int n_static = v.static_mask ? count_static(v.static_mask, so_static_model_age(m),
                                                &mismatch) : 0;
    printf("# %d of %d pixels static\n", n_static, W * H);
    CHECK_INT(mismatch, 0);
    CHECK(n_static > 0);        /* the block that stopped at 10 s is at rest */
    so_live_view_finish(&v);

    /* within the second after a refresh the mask stays; a second later it is made again */
    uint8_t *before = l.static_mask;
    double refresh = l.next_mask_media;
    struct so_frame *f = frame_at(refresh - 0.5, 0);
    so_live_publish(&l, f, 0.01, 0, NULL, 0, m, 1);
    CHECK(l.static_mask == before);
    so_frame_unref(f);
    f = frame_at(refresh, 0);
    so_live_publish(&l, f, 0.01, 0, NULL, 0, m, 1);
    CHECK_DBL(l.next_mask_media, refresh + 1.0, 1e-9);
    so_frame_unref(f);

    /* another frame size without a model: the old mask no longer fits and goes */
    struct so_frame *big = so_frame_alloc(W * 2, H * 2);
    big->media_s = refresh + 5;
    so_live_publish(&l, big, 0.01, 0, NULL, 0, NULL, 1);
    so_live_get(&l, true, &v);
    CHECK(v.frame == big && v.static_mask == NULL && v.mask_w == 0);
    so_live_view_finish(&v);
    so_frame_unref(big);
    so_live_finish(&l);
    so_static_model_destroy(m);
}

/* fps over a window of at least 2 s of monotonic time; 0 once nothing came for 3 s. */
static void test_fps(void)
{
    printf("# case: fps figures (5 s of sleeping)\n");
    struct so_live l;
    so_live_init(&l);
    struct so_frame *f = frame_at(0, 0);
    double t0 = so_time_mono();
    so_live_publish(&l, f, 0.01, 0, NULL, 0, NULL, 100);
    so_live_publish(&l, f, 0.01, 0, NULL, 0, NULL, 110);
    struct so_live_view v;
    so_live_get(&l, false, &v);
    CHECK(v.fps_decoded == 0 && v.fps_analysed == 0);   /* no window complete yet */
    so_test_sleep(2.05);
    so_live_publish(&l, f, 0.01, 0, NULL, 0, NULL, 150);
    double dt = so_time_mono() - t0;
    so_live_get(&l, false, &v);
    /* 50 frames decoded and 2 analysed since the window opened, dt >= 2 s ago */
    CHECK(v.fps_decoded > 50 / dt - 1e-9 && v.fps_decoded <= 50 / 2.0);
    CHECK(v.fps_analysed > 2 / dt - 1e-9 && v.fps_analysed <= 2 / 2.0);
    so_live_view_finish(&v);
    so_test_sleep(3.05);
    so_live_get(&l, false, &v);
    CHECK(v.fps_decoded == 0 && v.fps_analysed == 0);   /* stale */
    so_live_finish(&l);
    so_frame_unref(f);
}

/* One analysis thread publishing, one HTTP-like thread reading: every view is consistent (its
 * boxes belong to its frame) and every reference comes back. */
#define N_PUBLISHED 400

struct race {
    struct so_live live;
    struct so_frame *frames[N_PUBLISHED];
    atomic_bool done;
    int views, inconsistent;
};

static void *publisher(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < N_PUBLISHED; i++) {
        struct so_track t = {.id = i, .box = {i % W, 0, 1, 1}, .present = true};
        so_live_publish(&r->live, r->frames[i], 0.001, 0, &t, 1, NULL, (uint64_t)i);
        if (i % 16 == 0) {
            sched_yield();
        }
    }
    atomic_store(&r->done, true);
    return NULL;
}

static void *reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->done)) {
        struct so_live_view v;
        so_live_get(&r->live, true, &v);
        if (v.frame) {
            r->views++;
            r->inconsistent += v.n_boxes != 1 || v.boxes[0].track != v.frame->index;
        }
        so_live_view_finish(&v);
    }
    return NULL;
}

static void test_threads(void)
{
    printf("# case: publish on one thread, read on another\n");
    struct race *r = calloc(1, sizeof(*r));
    so_live_init(&r->live);
    atomic_init(&r->done, false);
    for (int i = 0; i < N_PUBLISHED; i++) {
        r->frames[i] = frame_at(i * 0.04, i);
    }
    pthread_t pub, rd;
    CHECK_INT(pthread_create(&rd, NULL, reader, r), 0);
    CHECK_INT(pthread_create(&pub, NULL, publisher, r), 0);
    pthread_join(pub, NULL);
    pthread_join(rd, NULL);
    printf("# %d views read\n", r->views);
    CHECK_INT(r->inconsistent, 0);
    CHECK_INT(refs(r->frames[N_PUBLISHED - 1]), 2);
    so_live_finish(&r->live);
    int leaked = 0;
    for (int i = 0; i < N_PUBLISHED; i++) {
        leaked += refs(r->frames[i]) != 1;
        so_frame_unref(r->frames[i]);
    }
    CHECK_INT(leaked, 0);
    free(r);
}

int main(void)
{
    test_counters();
    test_latency();
    test_frame_refs();
    test_boxes();
    test_detections();
    test_mask();
    test_threads();
    test_fps();
    return so_test_done();
}
