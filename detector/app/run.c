/*
 * `streetorder run`: one source (decode thread, inside the source module) and one analysis
 * thread per camera, one outputs thread for the whole detector, and the main thread waiting
 * for signals or for every input to end.
 *
 * Shutdown is cooperative: SIGINT/SIGTERM are blocked in every thread and taken by the main
 * thread with sigtimedwait(); it stops each source (which interrupts FFmpeg I/O and wakes the
 * analysis thread), joins the analysis threads, then drains and closes the outputs. End of
 * input, shutdown and outages never clear an episode (ARCHITECTURE, Episodes).
 */
#include <errno.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "detector.h"
#include "event.h"
#include "http.h"
#include "model.h"
#include "log.h"
#include "outputs.h"
#include "rules.h"
#include "source.h"
#include "static_model.h"
#include "timeutil.h"
#include "tracker.h"

#define HEALTH_HEARTBEAT_S 2.0    /* health repeated this often... */
#define HEALTH_FIRST_S 1.0        /* ...and first this soon after start (PUB slow joiners) */

struct camera_run {
    const struct so_camera_cfg *cfg;
    struct so_outputs *outputs;
    struct so_event_ctx ectx;
    struct so_source *source;
    struct so_static_model *model;
    struct so_rules *rules;
    struct so_detector *detector;       /* NULL: class-agnostic */
    struct so_tracker *tracker;         /* with the detector */
    double next_detect_s;
    struct so_box rois[8];              /* close-up regions around small vehicle zones */
    int n_rois;
    int width, height;
    pthread_t thread;
    bool thread_started;
    atomic_bool done;
    int status;                 /* 0, or the error that ended the input */
    pthread_mutex_t *wake_lock;
    pthread_cond_t *wake;
    atomic_int health;          /* last enum so_health reported, -1 before any */
    pthread_mutex_t health_lock;
    char health_detail[160];    /* the reason given with it, repeated by the heartbeat */
    const char *debug_dir;      /* STREETORDER_DEBUG_DIR, NULL when unset */
    struct so_live live;        /* published for the HTTP server after each frame */
    double debug_next;
};

static void on_health(void *opaque, enum so_health health, const char *detail)
{
    struct camera_run *c = opaque;
    pthread_mutex_lock(&c->health_lock);
    atomic_store(&c->health, (int)health);
    snprintf(c->health_detail, sizeof(c->health_detail), "%s", detail ? detail : "");
    pthread_mutex_unlock(&c->health_lock);
    so_outputs_health(c->outputs, c->cfg->id, so_health_name(health), detail);
}

static void on_report(void *opaque, const struct so_report *rep)
{
    struct camera_run *c = opaque;
    so_live_count(&c->live, rep->action);
    struct so_event *ev = so_event_create(&c->ectx, rep);
    if (!ev) {
        so_err(c->cfg->id, "out of memory building an event for zone %s", rep->zone->id);
        return;
    }
    so_outputs_submit(c->outputs, ev);
}

static void plan_rois(struct camera_run *c, int width, int height);

/* (Re)build the per-size analysis state for a frame size. */
static int setup_analysis(struct camera_run *c, const struct so_frame *f)
{
    int width = f->width, height = f->height;
    if (c->model && c->width == width && c->height == height) {
        return 0;
    }
    if (c->model) {
        so_warn(c->cfg->id, "frame size changed from %dx%d to %dx%d: restarting analysis",
                c->width, c->height, width, height);
    }
    so_rules_destroy(c->rules);
    so_static_model_destroy(c->model);
    so_tracker_destroy(c->tracker);
    c->rules = NULL;
    c->tracker = NULL;
    c->model = so_static_model_create(width, height, NULL);
    if (c->model) {
        c->rules = so_rules_create(c->cfg, width, height, on_report, c);
    }
    if (c->detector) {
        plan_rois(c, width, height);
        double fps = c->cfg->analysis.detect_fps;
        c->tracker = so_tracker_create(width, height, fps > 0 ? 1.0 / fps : 1.0);
    }
    if (!c->model || !c->rules || (c->detector && !c->tracker)) {
        so_err(c->cfg->id, "out of memory for a %dx%d analysis", width, height);
        return -ENOMEM;
    }
    c->width = width;
    c->height = height;
    so_info(c->cfg->id, "analysing %dx%d at %.3g fps (decoded %dx%d)", width, height,
            c->cfg->analysis.fps, f->src_width, f->src_height);
    return 0;
}

/*
 * STREETORDER_DEBUG_DIR: once a second, write the frame, the static-age map and the foreground
 * as one PGM (side by side) for tuning. Off in production; costs nothing when unset.
 */
static void debug_dump(struct camera_run *c, const struct so_frame *f)
{
    if (f->media_s < c->debug_next) {
        return;
    }
    c->debug_next = f->media_s + 1.0;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%06.1f.pgm", c->debug_dir, c->cfg->id, f->media_s);
    FILE *out = fopen(path, "wb");
    if (!out) {
        return;
    }
    int w = f->width, h = f->height;
    const float *age = so_static_model_age(c->model);
    const uint8_t *fg = so_static_model_foreground(c->model);
    fprintf(out, "P5\n%d %d\n255\n", 3 * w, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            fputc(f->gray[(size_t)y * f->gray_stride + x], out);
        }
        for (int x = 0; x < w; x++) {
            float a = age[(size_t)y * w + x] * 4.0f;
            fputc(a > 255 ? 255 : (int)a, out);
        }
        for (int x = 0; x < w; x++) {
            fputc(fg[(size_t)y * w + x], out);
        }
    }
    fclose(out);
    const char *px = getenv("STREETORDER_DEBUG_PIXEL");
    int dx, dy;
    if (px && sscanf(px, "%d,%d", &dx, &dy) == 2 && dx >= 0 && dy >= 0 && dx < w && dy < h) {
        size_t i = (size_t)dy * w + dx;
        so_debug(c->cfg->id, "pixel %d,%d at %.1f: raw %d frame %.1f bg %.1f age %.1f fg %d", dx,
                 dy, f->media_s, f->gray[(size_t)dy * f->gray_stride + dx],
                 so_static_model_frame(c->model)[i], so_static_model_background(c->model)[i],
                 age[i], fg[i]);
    }
}

/*
 * Close-ups: the detector sees a fixed-size input (320x320 for the small models), so a vehicle
 * zone that covers a small part of the frame gets a second pass on a region around it (the
 * zone's box grown to twice its size, at least 128 px a side): distant parked cars become big
 * enough to be found. Zones that cover much of the frame are served by the whole-frame pass.
 */
static void plan_rois(struct camera_run *c, int width, int height)
{
    c->n_rois = 0;
    for (size_t i = 0; i < c->cfg->n_zones && c->n_rois < 8; i++) {
        const struct so_zone_cfg *z = &c->cfg->zones[i];
        if (z->kind != SO_ZONE_ILLEGAL_PARKING && z->kind != SO_ZONE_NONMOTOR_PARKING) {
            continue;
        }
        double x0, y0, x1, y1;
        so_polygon_bounds(&z->polygon, &x0, &y0, &x1, &y1);
        double w = (x1 - x0) * width, h = (y1 - y0) * height;
        double side_w = w * 2 > 128 ? w * 2 : 128, side_h = h * 2 > 128 ? h * 2 : 128;
        if (side_w * side_h > 0.4 * width * height) {
            continue;
        }
        double cx = (x0 + x1) / 2 * width, cy = (y0 + y1) / 2 * height;
        int rx = (int)(cx - side_w / 2), ry = (int)(cy - side_h / 2);
        int rw = (int)side_w, rh = (int)side_h;
        rx = rx < 0 ? 0 : (rx + rw > width ? width - rw : rx);
        ry = ry < 0 ? 0 : (ry + rh > height ? height - rh : ry);
        rx = rx < 0 ? 0 : rx;
        ry = ry < 0 ? 0 : ry;
        rw = rw > width ? width : rw;
        rh = rh > height ? height : rh;
        c->rois[c->n_rois++] = (struct so_box){rx, ry, rw, rh};
    }
}

/*
 * Object detection at the camera's detect_fps (by media time, so --fast runs are
 * deterministic), on the whole analysis frame; the tracker advances on every frame.
 */
#define MAX_DETECTIONS 128
#define MAX_MOVING_SHARE 0.25

static void detect(struct camera_run *c, struct so_frame *f)
{
    struct so_detection dets[MAX_DETECTIONS];
    int n = 0;
    bool ran = false;
    double fps = c->cfg->analysis.detect_fps;
    if (fps > 0 && f->media_s >= c->next_detect_s - 1e-6) {
        c->next_detect_s += 1.0 / fps;
        if (c->next_detect_s <= f->media_s) {
            c->next_detect_s = f->media_s + 1.0 / fps;
        }
        struct so_image img = {f->bgr, f->width, f->height, f->bgr_stride};
        struct so_detect_filter filter = {
            .roles = SO_ROLE_BIT(SO_ROLE_VEHICLE) | SO_ROLE_BIT(SO_ROLE_NONMOTOR) |
                     SO_ROLE_BIT(SO_ROLE_PERSON) | SO_ROLE_BIT(SO_ROLE_STALL_CUE),
        };
        ran = true;
        for (int r = -1; r < c->n_rois; r++) {
            int got = 0;
            if (so_detector_run(c->detector, &img, r < 0 ? NULL : &c->rois[r], &filter, dets + n,
                                MAX_DETECTIONS - n, &got) < 0) {
                so_warn(c->cfg->id, "object detector failed: %s",
                        so_detector_last_error(c->detector));
                ran = false;
                break;
            }
            n += got;
        }
        if (c->n_rois) {
            n = so_detect_nms(dets, n, so_detector_model(c->detector)->nms_threshold);
        }
    }
    /* The tracker follows things at rest: a vehicle box over moving pixels is traffic. */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool vehicle = dets[i].role == SO_ROLE_VEHICLE || dets[i].role == SO_ROLE_NONMOTOR;
        const struct so_box *b = &dets[i].box;
        if (!vehicle ||
            so_static_model_moving_share(c->model, b->x, b->y, b->w, b->h) < MAX_MOVING_SHARE) {
            dets[kept++] = dets[i];
        }
    }
    so_tracker_update(c->tracker, f, dets, kept, ran);
}

static void *analysis_main(void *arg)
{
    struct camera_run *c = arg;
    for (;;) {
        struct so_frame *f = NULL;
        int rc = so_source_next(c->source, &f);
        if (rc < 0) {
            if (rc != AVERROR_EOF && rc != AVERROR_EXIT) {
                c->status = rc;
            }
            break;
        }
        if (setup_analysis(c, f) < 0) {
            c->status = -ENOMEM;
            so_frame_unref(f);
            break;
        }
        double t0 = so_time_mono();
        so_static_model_update(c->model, f->gray, f->gray_stride, f->media_s);
        const struct so_track *tracks = NULL;
        int n_tracks = 0;
        if (c->detector) {
            detect(c, f);
            n_tracks = so_tracker_tracks(c->tracker, &tracks);
        }
        so_rules_process(c->rules, f, c->model, tracks, n_tracks);
        if (c->debug_dir) {
            debug_dump(c, f);
        }
        struct so_source_stats st;
        so_source_get_stats(c->source, &st);
        so_live_publish(&c->live, f, so_time_mono() - t0, so_rules_open_count(c->rules), tracks,
                        n_tracks, c->model, st.frames_decoded);
        so_frame_unref(f);
    }
    atomic_store(&c->done, true);
    pthread_mutex_lock(c->wake_lock);
    pthread_cond_signal(c->wake);
    pthread_mutex_unlock(c->wake_lock);
    return NULL;
}

/* http.listen: serve /healthz, /metrics and snapshots of these cameras. NULL without the
 * key; NULL with it means the server could not start (logged). */
static struct so_http *start_http(const struct so_config *cfg, struct camera_run *cams,
                                  struct so_outputs *outputs)
{
    if (!cfg->http_listen) {
        return NULL;
    }
    struct so_http_camera *hc = calloc(cfg->n_cameras, sizeof(*hc));
    if (!hc) {
        abort();
    }
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        hc[i] = (struct so_http_camera){cams[i].cfg, cams[i].source, &cams[i].live};
    }
    struct so_http_opts ho = {.listen = cfg->http_listen, .cameras = hc,
                              .n_cameras = cfg->n_cameras, .outputs = outputs};
    struct so_http *http = so_http_create(&ho);
    free(hc);
    return http;
}

static bool all_done(struct camera_run *cams, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!atomic_load(&cams[i].done)) {
            return false;
        }
    }
    return true;
}

/* While draining delivery: keep waiting unless SIGINT/SIGTERM arrived (they do not drain). */
static bool no_stop_signal(void *opaque)
{
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(opaque, NULL, &zero);
    if (sig == SIGINT || sig == SIGTERM) {
        so_info("run", "%s: stopping without waiting for delivery",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        return false;
    }
    return true;
}

int so_cmd_run(const struct so_run_opts *opts)
{
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(opts->config_path, &errors);
    if (!cfg) {
        so_config_errors_print(&errors, stderr);
        fprintf(stderr, "%s: %zu error%s; not started\n", opts->config_path, errors.n,
                errors.n == 1 ? "" : "s");
        so_config_errors_finish(&errors);
        return 1;
    }
    so_config_errors_finish(&errors);
    if (cfg->timezone) {
        setenv("TZ", cfg->timezone, 1);
    }
    tzset();
    av_log_set_level(AV_LOG_ERROR);

    /* Block the stop signals before any thread starts, so only sigtimedwait() sees them. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct so_outputs_opts oo = {
        .config = cfg,
        .events_path = opts->events_path,
        .console = !opts->quiet,
    };
    struct so_outputs *outputs = so_outputs_create(&oo);
    if (!outputs) {
        so_config_destroy(cfg);
        return 1;
    }
    so_info("run", "detector %s: %zu camera%s, state in %s", cfg->detector_id, cfg->n_cameras,
            cfg->n_cameras == 1 ? "" : "s", cfg->state_dir);
    struct so_model_desc *model = NULL;
    if (!cfg->model) {
        so_info("run", "no model configured: detecting class-agnostic (static objects)");
    } else {
        char err[1024];
        model = so_model_open(cfg->model, cfg->weights_dir, err, sizeof(err));
        if (!model) {
            so_err("run", "model %s: %s", cfg->model, err);
            so_outputs_destroy(outputs);
            so_config_destroy(cfg);
            return 1;
        }
        so_info("run", "object detector: %s", cfg->model);
        for (size_t i = 0; i < cfg->n_cameras; i++) {
            for (size_t j = 0; j < cfg->cameras[i].n_zones; j++) {
                const struct so_zone_cfg *z = &cfg->cameras[i].zones[j];
                for (size_t k = 0; k < z->n_classes; k++) {
                    if (so_model_class_index(model, z->classes[k]) < 0) {
                        so_warn(cfg->cameras[i].id, "zone %s: model %s has no class \"%s\": "
                                "it will never match", z->id, cfg->model, z->classes[k]);
                    }
                }
            }
        }
    }

    pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
    double run_start = so_time_wall();
    struct camera_run *cams = calloc(cfg->n_cameras, sizeof(*cams));
    if (!cams) {
        abort();
    }
    int status = 0;
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        struct camera_run *c = &cams[i];
        c->cfg = &cfg->cameras[i];
        c->outputs = outputs;
        so_live_init(&c->live);
        c->ectx = (struct so_event_ctx){.detector_id = cfg->detector_id, .model = cfg->model,
                                        .categories = cfg->categories};
        if (model) {
            char err[1024];
            c->detector = so_detector_create(model, 1, err, sizeof(err));
            if (!c->detector) {
                so_err(c->cfg->id, "cannot create the object detector: %s", err);
                atomic_store(&c->done, true);
                status = 1;
                continue;
            }
        }
        c->wake_lock = &wake_lock;
        c->wake = &wake;
        c->debug_dir = getenv("STREETORDER_DEBUG_DIR");
        atomic_init(&c->done, false);
        atomic_init(&c->health, -1);
        pthread_mutex_init(&c->health_lock, NULL);
        struct so_source_opts so = {
            .url = c->cfg->resolved_url,
            .camera_id = c->cfg->id,
            .fps = c->cfg->analysis.fps,
            .max_width = c->cfg->analysis.width,
            .fast = opts->fast,
            .keyframes_only = c->cfg->decode == SO_DECODE_KEYFRAMES,
            .run_start_wall = run_start,
            .on_health = on_health,
            .opaque = c,
        };
        c->source = so_source_create(&so);
        if (!c->source ||
            pthread_create(&c->thread, NULL, analysis_main, c) != 0) {
            so_err(c->cfg->id, "cannot start the camera");
            atomic_store(&c->done, true);
            status = 1;
            continue;
        }
        c->thread_started = true;
    }

    struct so_http *http = start_http(cfg, cams, outputs);
    if (cfg->http_listen && !http) {
        status = 1;
    }

    /* Wait for a stop signal or for every input to end. */
    bool signalled = false;
    double next_heartbeat = so_time_mono() + HEALTH_FIRST_S;
    while (!all_done(cams, cfg->n_cameras) && !(cfg->http_listen && !http)) {
        if (so_time_mono() >= next_heartbeat) {
            /* Health is published on change and repeated, so that a subscriber that joins
             * late (or lost messages: PUB drops for slow readers) learns every camera's state. */
            next_heartbeat += HEALTH_HEARTBEAT_S;
            for (size_t i = 0; i < cfg->n_cameras; i++) {
                char detail[160];
                pthread_mutex_lock(&cams[i].health_lock);
                int h = atomic_load(&cams[i].health);
                snprintf(detail, sizeof(detail), "%s", cams[i].health_detail);
                pthread_mutex_unlock(&cams[i].health_lock);
                if (h >= 0) {   /* the last reason again: a late subscriber learns why */
                    so_outputs_health(outputs, cams[i].cfg->id, so_health_name(h), detail);
                }
            }
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&stop_sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            so_info("run", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            signalled = true;
            break;
        }
    }
    so_http_set_stopping(http);     /* /healthz: 503 from here on */
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        so_source_stop(cams[i].source);
    }
    so_http_destroy(http);          /* before the cameras it borrows */
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        struct camera_run *c = &cams[i];
        if (c->thread_started) {
            pthread_join(c->thread, NULL);
        }
        if (c->status < 0) {
            status = 1;
        }
        if (c->rules) {
            int open = so_rules_open_count(c->rules);
            if (open) {
                so_info(c->cfg->id, "%d episode%s still open at exit (not cleared)", open,
                        open == 1 ? "" : "s");
            }
        }
        so_source_destroy(c->source);
        so_rules_destroy(c->rules);
        so_static_model_destroy(c->model);
        so_tracker_destroy(c->tracker);
        so_detector_destroy(c->detector);
        so_live_finish(&c->live);
    }
    so_model_destroy(model);
    if (!signalled) {   /* inputs ended: give the platform drain_s to acknowledge */
        so_outputs_drain(outputs, cfg->deliver.drain_s, no_stop_signal, &stop_sigs);
    }
    so_outputs_destroy(outputs);
    so_info("run", "%s", signalled ? "stopped" : "all inputs ended");
    free(cams);
    so_config_destroy(cfg);
    return status;
}
