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
#include "cmdjournal.h"
#include "commands.h"
#include "config.h"
#include "detector.h"
#include "event.h"
#include "evidence_worker.h"
#include "http.h"
#include "model.h"
#include "log.h"
#include "netshare.h"
#include "outputs.h"
#include "reload_plan.h"
#include "rules.h"
#include "scheduler.h"
#include "source.h"
#include "stages.h"
#include "static_model.h"
#include "timeutil.h"
#include "tracker.h"
#include "view_check.h"

#define HEALTH_HEARTBEAT_S 2.0    /* health repeated this often... */
#define HEALTH_FIRST_S 1.0        /* ...and first this soon after start (PUB slow joiners) */

struct camera_run {
    /* Changed by a reload (zones only) with analysis_lock held; read by the analysis thread
     * while it holds the lock, and by the main thread. */
    const struct so_camera_cfg *cfg;
    const char *id;                     /* the camera id, fixed (the decode thread's on_health) */
    pthread_mutex_t analysis_lock;      /* held by the analysis thread while it works on a frame */
    struct so_outputs *outputs;
    struct so_commands *cmds;           /* commands from the platform; NULL without delivery */
    struct so_evidence_worker *evidence; /* with an evidence_url: events go out through it */
    struct so_event_ctx ectx;
    struct so_source *source;
    struct so_static_model *model;
    struct so_rules *rules;
    struct so_detector *detector;       /* NULL: class-agnostic */
    struct so_tracker *tracker;         /* with the detector */
    struct so_scheduler *sched;         /* with the detector: when it looks, and where */
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
    struct so_stages stages;    /* CPU per stage: the decode thread's and the analysis thread's */
    double debug_next;
    struct so_view_check *view; /* camera moved / tampered; the analysis thread's own */
    bool view_off;              /* moved or tampered by the view check (analysis thread only) */
    int view_w, view_h;
};

static void on_health(void *opaque, enum so_health health, const char *detail)
{
    struct camera_run *c = opaque;
    pthread_mutex_lock(&c->health_lock);
    atomic_store(&c->health, (int)health);
    snprintf(c->health_detail, sizeof(c->health_detail), "%s", detail ? detail : "");
    pthread_mutex_unlock(&c->health_lock);
    so_live_set_health(&c->live, (int)health, detail);
    so_outputs_health(c->outputs, c->id, so_health_name(health), detail);
}

static void on_report(void *opaque, const struct so_report *rep)
{
    struct camera_run *c = opaque;
    so_live_count(&c->live, rep->action, rep->episode->warned_s >= 0);
    so_commands_report(c->cmds, rep);
    struct so_event *ev = so_event_create(&c->ectx, rep);
    if (!ev) {
        so_err(c->cfg->id, "out of memory building an event for zone %s", rep->zone->id);
        return;
    }
    if (rep->action != SO_EPISODE_VERIFIED) {
        so_live_episode(&c->live, ev);
    }
    if (c->evidence) {  /* high-resolution confirm/after images, in the camera's order */
        so_evidence_worker_submit(c->evidence, ev);
    } else {
        so_outputs_submit(c->outputs, ev);
    }
}

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
        so_commands_replay(c->cmds, c->id, c->rules, width, height);
    }
    if (c->detector) {
        so_scheduler_set_zones(c->sched, c->cfg, width, height);
        so_scheduler_restart(c->sched);
        c->tracker = so_tracker_create(width, height);
    }
    if (!c->model || !c->rules || (c->detector && !c->tracker)) {
        so_err(c->cfg->id, "out of memory for a %dx%d analysis", width, height);
        return -ENOMEM;
    }
    c->width = width;
    c->height = height;
    so_info(c->cfg->id, "analysing %dx%d at %.3g fps (decoded %dx%d)", width, height,
            c->cfg->analysis.rate, f->src_width, f->src_height);
    return 0;
}

/*
 * Camera moved / tampered (analysis/view_check.h, docs/detection.md): while the view does not
 * match the reference, the frame is not analysed (the static model's clock stops, the detector
 * and the rules skip it, like a stream outage: no episode opens, none is cleared or duplicated)
 * and health says moved / tampered with the reason, through on_health so the heartbeat repeats
 * it. A camera moved for the checker's adopt_s restarts its analysis on the new view. Returns 1
 * to analyse the frame, 0 to skip it, a negative errno when the analysis cannot restart.
 */
#define VIEW_ALIGN_PX 8     /* a view within this of the reference's matches (thumbnail +-1) */

static int view_step(struct camera_run *c, const struct so_frame *f)
{
    if (!c->view || c->view_w != f->width || c->view_h != f->height) {
        so_view_check_destroy(c->view);
        c->view = so_view_check_create(f->width, f->height, NULL);
        c->view_w = f->width;
        c->view_h = f->height;
        if (!c->view) {
            so_warn(c->id, "out of memory for the view check: moved/tampered not detected");
        }
    }
    struct so_view_result r;
    if (!c->view || so_view_check_update(c->view, f->gray, f->gray_stride, f->media_s, &r) < 0) {
        return 1;
    }
    bool off = r.state == SO_VIEW_MOVED || r.state == SO_VIEW_TAMPERED;
    enum so_health h = r.state == SO_VIEW_MOVED ? SO_HEALTH_MOVED
                       : r.state == SO_VIEW_TAMPERED ? SO_HEALTH_TAMPERED : SO_HEALTH_LIVE;
    if (r.adopted) {
        so_warn(c->id, "%s: restarting analysis (open episodes end as view_changed)", r.reason);
        so_rules_view_changed(c->rules, (struct so_frame *)f);
        so_static_model_destroy(c->model);
        c->model = NULL;            /* setup_analysis builds model, rules and tracker anew */
        if (setup_analysis(c, f) < 0) {
            return -ENOMEM;
        }
        c->view_off = false;
        on_health(c, SO_HEALTH_LIVE, r.reason);
    } else if (r.changed && off) {
        so_warn(c->id, "camera %s: %s; rules suspended", so_health_name(h), r.reason);
        c->view_off = true;
        on_health(c, h, r.reason);
    } else if (r.changed && c->view_off) {
        c->view_off = false;
        /* Back at the preset, maybe a pixel or two off: the static model moves with the scene
         * (else every edge would come to rest as an object). */
        int dx = 0, dy = 0;
        double z = so_view_align(so_static_model_background(c->model), f->gray, f->gray_stride,
                                 f->width, f->height, VIEW_ALIGN_PX, &dx, &dy);
        char detail[sizeof(r.reason) + 48];
        snprintf(detail, sizeof(detail), "%s", r.reason);
        if (z >= 0.3 && (dx || dy) && so_static_model_translate(c->model, dx, dy) == 0) {
            so_tracker_translate(c->tracker, dx, dy);
            so_rules_translate(c->rules, dx, dy);
            snprintf(detail, sizeof(detail), "%s, %+d,%+d px off: re-aligned", r.reason, dx, dy);
        }
        so_info(c->id, "camera %s: rules resume", detail);
        on_health(c, SO_HEALTH_LIVE, detail);
    } else if (off && atomic_load(&c->health) != (int)h) {
        on_health(c, h, r.reason);  /* the source said live again (after an outage) */
    }
    if (!r.frame_ok && !off) {
        so_debug(c->id, "view check: frame at %.1f s not analysed (match %.2f, sharpness %.2f, "
                 "contrast %.1f)", f->media_s, r.match, r.sharpness, r.contrast);
    }
    return r.frame_ok ? 1 : 0;
}

/*
 * STREETORDER_DEBUG_DIR: once a second, write the frame, the static-age map and the foreground
 * as one PGM (side by side) for tuning. Off in production; costs nothing when unset.
 */
static void debug_dump(struct camera_run *c, const struct so_frame *f)
{
    struct so_shift sh = so_static_model_shift(c->model);
    so_debug(c->cfg->id, "frame at %.1f s: shift %+.2f,%+.2f px (%s, match %.2f, %d points)",
             f->media_s, sh.dx, sh.dy, sh.ok ? "ok" : "none", sh.match, sh.points);
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

/* The analysis thread's CPU since *mark goes to stage `st`; *mark moves to now. */
static void lap(struct camera_run *c, enum so_stage st, double *mark)
{
    double now = so_time_thread_cpu();
    so_stages_add(&c->stages, st, now - *mark);
    *mark = now;
}

/* At the end of a camera's analysis: its CPU seconds per stage (scripts/bench sums them). The
 * decode thread may still add its last count: the line is what was known at that moment. */
static void log_stages(struct camera_run *c)
{
    char line[512];
    size_t len = 0;
    for (int st = 0; st < SO_STAGE_COUNT && len < sizeof(line); st++) {
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %.3f", st ? ", " : "",
                                so_stage_name(st), so_stages_get(&c->stages, st));
    }
    so_info(c->id, "CPU seconds by stage: %s", line);
}

/* The scheduler's stop predicate: a stopping source ends the looks of a tick (shutdown). */
static bool source_stopping(void *opaque)
{
    return so_source_stopping(opaque);
}

/* The object detector's looks and the tracker on one frame; their CPU split between the
 * network (the detector's own count) and the tracker (the rest). Returns the tracks. */
static int detect_step(struct camera_run *c, const struct so_frame *f, double *mark,
                       const struct so_track **tracks)
{
    struct so_look_stats before, after;
    so_detector_look_stats(c->detector, &before);
    so_scheduler_frame(c->sched, c->detector, c->tracker, c->model, f, source_stopping,
                       c->source);
    const struct so_detection *seen;
    double seen_s;
    int n_seen = so_scheduler_last_look(c->sched, &seen, &seen_s);
    so_live_publish_detections(&c->live, seen, n_seen, seen_s);
    int n = so_tracker_tracks(c->tracker, tracks);
    so_detector_look_stats(c->detector, &after);
    so_stages_add(&c->stages, SO_STAGE_NETWORK, after.cpu_s - before.cpu_s);
    *mark += after.cpu_s - before.cpu_s;
    lap(c, SO_STAGE_TRACKER, mark);
    return n;
}

/* The platform's commands for this camera, between two frames; a verify while the view is
 * moved or tampered answers unknown, saying so. A single frame the view check did not let
 * through (blur, a flash) leaves them for the next one (a verify has its deadline). */
static void run_commands(struct camera_run *c, int view)
{
    char blind[200] = "";
    if (!view && !c->view_off) {
        return;
    }
    if (!view) {
        pthread_mutex_lock(&c->health_lock);
        snprintf(blind, sizeof(blind), "the camera is %s: %s",
                 so_health_name(atomic_load(&c->health)), c->health_detail);
        pthread_mutex_unlock(&c->health_lock);
    }
    so_commands_run(c->cmds, c->id, c->rules, view ? NULL : blind);
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
        pthread_mutex_lock(&c->analysis_lock);     /* a reload changes zones between frames */
        double mark = so_time_thread_cpu();
        if (setup_analysis(c, f) < 0) {
            c->status = -ENOMEM;
            pthread_mutex_unlock(&c->analysis_lock);
            so_frame_unref(f);
            break;
        }
        double t0 = so_time_mono();
        int view = view_step(c, f);
        if (view < 0) {
            c->status = view;
            pthread_mutex_unlock(&c->analysis_lock);
            so_frame_unref(f);
            break;
        }
        lap(c, SO_STAGE_OTHER, &mark);
        if (view) {
            so_static_model_update(c->model, f->gray, f->gray_stride, f->media_s);
        } else {
            so_static_model_skip(c->model, f->media_s);     /* moved / tampered */
        }
        lap(c, SO_STAGE_STATIC, &mark);
        const struct so_track *tracks = NULL;
        int n_tracks = 0;
        if (c->detector && view) {
            n_tracks = detect_step(c, f, &mark, &tracks);
        }
        if (view) {
            so_rules_process(c->rules, f, c->model, tracks, n_tracks);
        }
        run_commands(c, view);
        lap(c, SO_STAGE_RULES, &mark);
        if (c->debug_dir) {
            debug_dump(c, f);
        }
        struct so_source_stats st;
        so_source_get_stats(c->source, &st);
        so_live_publish(&c->live, f, so_time_mono() - t0, so_rules_open_count(c->rules), tracks,
                        n_tracks, c->model, st.frames_decoded);
        so_live_publish_status(&c->live, so_rules_status(c->rules), !view);
        lap(c, SO_STAGE_OTHER, &mark);
        pthread_mutex_unlock(&c->analysis_lock);
        so_frame_unref(f);
    }
    if (c->detector) {
        struct so_sched_stats ds;
        struct so_look_stats ls;
        so_scheduler_get_stats(c->sched, &ds);
        so_detector_look_stats(c->detector, &ls);
        so_info(c->id, "object detector: ran on %ld of %ld ticks (%ld looks; %ld times a region "
                "waited a tick; %llu looks waited for the shared network, %.3f s in all)",
                ds.passes, ds.ticks, ds.inferences, ds.waits, (unsigned long long)ls.waited,
                ls.wait_s);
    }
    log_stages(c);
    so_view_check_destroy(c->view);
    c->view = NULL;
    atomic_store(&c->done, true);
    pthread_mutex_lock(c->wake_lock);
    pthread_cond_signal(c->wake);
    pthread_mutex_unlock(c->wake_lock);
    return NULL;
}

/*
 * The running detector, owned by the main thread. Settings a reload cannot change (detector.*,
 * outputs.*, http.listen: so_config_restart_changes) keep the values of `base`, the config the
 * process started with. Every accepted config stays loaded until exit (`configs`): events in
 * flight, rules, HTTP pages and cameras that did not change borrow from the one they were
 * made with, and a few KiB per accepted reload is cheaper than reference counts on every use.
 */
struct runner {
    const struct so_run_opts *opts;
    struct so_config *base;
    struct so_config **configs;
    size_t n_configs;
    struct so_outputs *outputs;
    struct so_commands *cmds;           /* with outputs.deliver: commands from the platform */
    struct so_model_desc *model;        /* NULL: class-agnostic */
    struct so_netshare *nets;           /* the network(s), shared by the cameras' detectors */
    struct so_http *http;
    struct camera_run **cams;           /* in the order of the current config */
    size_t n_cams;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
    struct so_event_ctx ectx;           /* for the command desk's verification records */
};

/* A zone class the object detector does not know never matches: say so (a warning). */
static void warn_zone_classes(const struct runner *rn, const struct so_camera_cfg *cam)
{
    for (size_t j = 0; rn->model && j < cam->n_zones; j++) {
        const struct so_zone_cfg *z = &cam->zones[j];
        for (size_t k = 0; k < z->n_classes; k++) {
            if (so_model_class_index(rn->model, z->classes[k]) < 0) {
                so_warn(cam->id, "zone %s: model %s has no class \"%s\": it will never match",
                        z->id, rn->base->model, z->classes[k]);
            }
        }
    }
}

/*
 * Start one camera: its source (decode thread) and analysis thread. Always returns the camera;
 * when it could not start (logged) it is marked done and *ok is false. `start_wall`: the wall
 * time that media time 0 of a file input stands for (schedules).
 */
static struct camera_run *camera_start(struct runner *rn, const struct so_camera_cfg *cfg,
                                       double start_wall, bool *ok)
{
    struct camera_run *c = calloc(1, sizeof(*c));
    if (!c) {
        abort();
    }
    *ok = true;
    c->cfg = cfg;
    c->id = cfg->id;
    c->outputs = rn->outputs;
    c->cmds = rn->cmds;
    if (cfg->evidence_url) {    /* its lifetime is the camera's: a restart makes a new one */
        struct so_evidence_worker_opts eo = {.url = cfg->evidence_url, .camera_id = cfg->id,
                                             .outputs = rn->outputs};
        c->evidence = so_evidence_worker_create(&eo);   /* NULL: analysis images only */
    }
    so_live_init(&c->live);
    so_stages_init(&c->stages);
    c->ectx = (struct so_event_ctx){.detector_id = rn->base->detector_id,
                                    .model = rn->base->model,
                                    .categories = rn->base->categories};
    c->wake_lock = &rn->wake_lock;
    c->wake = &rn->wake;
    c->debug_dir = getenv("STREETORDER_DEBUG_DIR");
    atomic_init(&c->done, false);
    atomic_init(&c->health, -1);
    pthread_mutex_init(&c->health_lock, NULL);
    pthread_mutex_init(&c->analysis_lock, NULL);
    if (rn->model) {
        char err[1024];
        enum so_detect_backend be = SO_DETECT_BACKEND_DEFAULT;
        if (rn->base->backend) {
            so_detect_backend_parse(rn->base->backend, &be);  /* validated by the config */
        }
        c->detector = so_detector_create_shared(rn->nets, rn->model, be, err, sizeof(err));
        if (!c->detector) {
            so_err(c->id, "cannot create the object detector: %s", err);
            atomic_store(&c->done, true);
            *ok = false;
            return c;
        }
        c->sched = so_scheduler_create(cfg->id, cfg->analysis.detect_fps,
                                       cfg->decode == SO_DECODE_KEYFRAMES);
    }
    struct so_source_opts so = {
        .url = cfg->resolved_url,
        .camera_id = cfg->id,
        .fps = cfg->analysis.rate,
        .max_width = cfg->analysis.width,
        .fast = rn->opts->fast,
        .keyframes_only = cfg->decode == SO_DECODE_KEYFRAMES,
        .run_start_wall = start_wall,
        .on_health = on_health,
        .opaque = c,
        .stages = &c->stages,
    };
    c->source = so_source_create(&so);
    if (!c->source || pthread_create(&c->thread, NULL, analysis_main, c) != 0) {
        so_err(c->id, "cannot start the camera");
        atomic_store(&c->done, true);
        *ok = false;
        return c;
    }
    c->thread_started = true;
    return c;
}

/* Stop (if not yet), join and free a camera. Sets *status to 1 when its input failed. Its open
 * episodes stay open (`why`: "at exit", "at restart"): only a removed zone clears one. */
static void camera_destroy(struct camera_run *c, const char *why, int *status)
{
    if (!c) {
        return;
    }
    so_source_stop(c->source);
    if (c->thread_started) {
        pthread_join(c->thread, NULL);
    }
    so_evidence_worker_destroy(c->evidence);    /* after the last report; before the outputs */
    if (c->status < 0 && status) {
        *status = 1;
    }
    if (c->rules) {
        int open = so_rules_open_count(c->rules);
        if (open) {
            so_info(c->id, "%d episode%s still open %s (not cleared)", open,
                    open == 1 ? "" : "s", why);
        }
    }
    so_source_destroy(c->source);
    so_rules_destroy(c->rules);
    so_static_model_destroy(c->model);
    so_tracker_destroy(c->tracker);
    so_detector_destroy(c->detector);
    so_scheduler_destroy(c->sched);
    so_live_finish(&c->live);
    pthread_mutex_destroy(&c->health_lock);
    pthread_mutex_destroy(&c->analysis_lock);
    free(c);
}

/*
 * Give a running camera a new zone set (NULL: none, the camera goes away), between two frames
 * of its analysis thread (or at once when it waits for a frame: a blind camera too). Removed
 * zones' open episodes are reported cleared from here, on the calling thread. Returns 0 or
 * -ENOMEM (nothing changed).
 */
static int camera_set_zones(struct camera_run *c, const struct so_camera_cfg *cfg)
{
    int rc = 0;
    pthread_mutex_lock(&c->analysis_lock);
    if (c->rules) {
        rc = so_rules_set_camera(c->rules, cfg);
    }
    if (rc == 0 && cfg) {
        c->cfg = cfg;
        if (c->detector && c->model) {  /* the close-ups and watched areas follow the zones */
            so_scheduler_set_zones(c->sched, cfg, c->width, c->height);
        }
    }
    pthread_mutex_unlock(&c->analysis_lock);
    return rc;
}

/* Serve the current cameras on HTTP (waits for the requests in progress). */
/* The HTTP server's view of the running cameras (malloc()ed, n_cams entries; caller frees). */
static struct so_http_camera *http_cameras(const struct runner *rn)
{
    struct so_http_camera *hc = calloc(rn->n_cams ? rn->n_cams : 1, sizeof(*hc));
    if (!hc) {
        abort();
    }
    for (size_t i = 0; i < rn->n_cams; i++) {
        struct camera_run *c = rn->cams[i];
        hc[i] = (struct so_http_camera){c->cfg, c->source, &c->live, &c->health,
                                        .detector = c->detector, .stages = &c->stages};
    }
    return hc;
}

static void http_update(struct runner *rn)
{
    if (!rn->http) {
        return;
    }
    struct so_http_camera *hc = http_cameras(rn);
    so_http_set_cameras(rn->http, hc, rn->n_cams);
    free(hc);
}

/* http.listen: serve /healthz, /metrics and snapshots of the cameras, behind http.auth's users
 * and over TLS when configured. NULL without the key; NULL with it means the server could not
 * start (logged). */
static struct so_http *start_http(struct runner *rn)
{
    if (!rn->base->http_listen) {
        return NULL;
    }
    struct so_http_camera *hc = http_cameras(rn);
    const struct so_config *cfg = rn->base;
    char *evidence = so_outputs_resolve(cfg, cfg->evidence_dir ? cfg->evidence_dir : "evidence");
    struct so_http_opts ho = {.listen = cfg->http_listen, .cameras = hc, .n_cameras = rn->n_cams,
                              .outputs = rn->outputs, .evidence_dir = evidence,
                              .auth = cfg->http_auth, .tls_cert = cfg->http_tls_cert,
                              .tls_key = cfg->http_tls_key};
    struct so_http *http = so_http_create(&ho);
    free(evidence);
    free(hc);
    return http;
}

static bool all_done(struct camera_run *const *cams, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!atomic_load(&cams[i]->done)) {
            return false;
        }
    }
    return true;
}

/* One line per camera whose zones change: which zones go, come, or change settings. */
static void log_zone_changes(const struct so_camera_cfg *old, const struct so_camera_cfg *cur)
{
    struct so_zone_diff d;
    so_reload_zone_diff(old, cur, &d);
    so_info(cur->id, "reload: zones changed (camera keeps running): removed [%s], added [%s], "
            "new settings [%s]", d.removed, d.added, d.changed);
}

/*
 * The new config for a reload, checked like `streetorder check` does (and the new model's
 * descriptor and weights when detector.model names another one). NULL when it is rejected
 * (the errors printed, a warning logged).
 */
static struct so_config *reload_load(const struct runner *rn)
{
    const char *path = rn->opts->config_path;
    so_info("run", "reload: SIGHUP, loading %s", path);
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(path, &errors);
    if (cfg && cfg->model && !(rn->base->model && strcmp(cfg->model, rn->base->model) == 0)) {
        char err[2048];     /* what `check` verifies too: the new model's descriptor, weights */
        if (so_model_check(cfg->model, cfg->weights_dir, err, sizeof(err)) < 0) {
            char msg[2100];  /* printed like `check` does: "FILE: detector.model: ..." */
            snprintf(msg, sizeof(msg), "detector.model: %s", err);
            so_config_errors_add(&errors, path, 0, 0, "detector.model", msg);
            so_config_destroy(cfg);
            cfg = NULL;
        }
    }
    if (!cfg) {
        so_config_errors_print(&errors, stderr);
        so_warn("run", "reload rejected: %zu error%s; keeping the running config", errors.n,
                errors.n == 1 ? "" : "s");
    }
    so_config_errors_finish(&errors);
    return cfg;
}

/* Zones only: swap them between two frames; the camera goes on. A camera whose zones cannot
 * change (out of memory) is restarted instead (the plan says so from here on). */
static void reload_zones(struct runner *rn, const struct so_config *cfg,
                         struct so_reload_plan *plan)
{
    for (size_t i = 0; i < rn->n_cams; i++) {
        struct camera_run *c = rn->cams[i];
        if (plan->fate[i] != SO_RELOAD_ZONES) {
            continue;
        }
        const struct so_camera_cfg *nc = so_config_find_camera(cfg, c->id);
        log_zone_changes(c->cfg, nc);
        warn_zone_classes(rn, nc);
        if (camera_set_zones(c, nc) < 0) {
            so_err(c->id, "reload: out of memory changing the zones: restarting the camera");
            plan->fate[i] = SO_RELOAD_RESTART;
            plan->n_zones--;
            plan->n_restart++;
        }
    }
}

static bool goes(enum so_reload_fate fate)
{
    return fate == SO_RELOAD_REMOVE || fate == SO_RELOAD_RESTART;
}

/* Removed and restarted: clear the episodes of zones that go away, then stop them all at once,
 * take them off the HTTP list and join them (their rn->cams entries become NULL). */
static void reload_stop(struct runner *rn, const struct so_config *cfg,
                        const struct so_reload_plan *plan)
{
    for (size_t i = 0; i < rn->n_cams; i++) {
        struct camera_run *c = rn->cams[i];
        if (goes(plan->fate[i])) {
            const struct so_camera_cfg *nc = so_config_find_camera(cfg, c->id);
            so_info(c->id, "reload: %s", nc ? "stream settings changed: restarting the camera"
                                            : "camera removed: stopping it");
            camera_set_zones(c, nc);    /* -ENOMEM: the episodes just stay open */
            so_source_stop(c->source);
            so_evidence_worker_stop(c->evidence);   /* no grabs: a reload stays quick */
        }
    }
    if (!plan->n_restart && !plan->n_remove) {
        return;
    }
    struct camera_run **old = rn->cams;
    size_t n_old = rn->n_cams, kept = 0;
    struct camera_run **keep = calloc(n_old ? n_old : 1, sizeof(*keep));
    if (!keep) {
        abort();
    }
    for (size_t i = 0; i < n_old; i++) {
        if (!goes(plan->fate[i])) {
            keep[kept++] = old[i];
        }
    }
    rn->cams = keep;
    rn->n_cams = kept;
    http_update(rn);
    for (size_t i = 0; i < n_old; i++) {
        if (goes(plan->fate[i])) {
            camera_destroy(old[i], "at restart", NULL);
            old[i] = NULL;
        }
    }
    rn->cams = old;     /* the stopped ones NULL: reload_start() replaces them */
    rn->n_cams = n_old;
    free(keep);
}

/* The new camera list, in the new config's order: kept ones, restarted and added ones (those
 * start here). Returns how many could not start. */
static size_t reload_start(struct runner *rn, const struct so_config *cfg,
                           const struct so_reload_plan *plan)
{
    struct camera_run **next = calloc(cfg->n_cameras ? cfg->n_cameras : 1, sizeof(*next));
    if (!next) {
        abort();
    }
    size_t n_failed = 0;
    double now_wall = so_time_wall();
    for (size_t k = 0; k < cfg->n_cameras; k++) {
        int from = plan->from[k];
        if (from >= 0 && !goes(plan->fate[from])) {
            next[k] = rn->cams[from];
        } else {
            bool ok;
            warn_zone_classes(rn, &cfg->cameras[k]);
            next[k] = camera_start(rn, &cfg->cameras[k], now_wall, &ok);
            n_failed += !ok;
        }
    }
    free(rn->cams);
    rn->cams = next;
    rn->n_cams = cfg->n_cameras;
    http_update(rn);
    return n_failed;
}

/*
 * SIGHUP: load and validate the config file again, then apply what changed. An invalid file
 * changes nothing. The plan (config/reload_plan.h) says per camera (by id): unchanged ones are
 * not touched; when only zones changed the camera keeps running and its rules get the new zones
 * (camera_set_zones); when stream settings changed it is restarted; removed cameras stop (their
 * open episodes cleared as zone_removed first), added ones start. Main thread only.
 */
static void reload(struct runner *rn)
{
    double t0 = so_time_mono();
    struct so_config *cfg = reload_load(rn);
    if (!cfg) {
        return;
    }
    struct so_reload_plan plan;     /* the running cameras are those of the latest config */
    so_reload_plan(rn->base, rn->configs[rn->n_configs - 1], cfg, &plan);
    if (plan.n_restart_keys) {
        so_warn("run", "reload: %s changed: a restart is needed for %s; keeping the running "
                "value%s", plan.restart_keys, plan.n_restart_keys == 1 ? "it" : "them",
                plan.n_restart_keys == 1 ? "" : "s");
    }
    for (size_t k = 0; k < cfg->n_cameras; k++) {
        if (plan.from[k] < 0) {
            so_info(cfg->cameras[k].id, "reload: camera added: starting it");
        }
    }
    if (!so_reload_plan_changes(&plan)) {   /* nothing borrows from the new config: free it */
        so_reload_plan_finish(&plan);
        so_config_destroy(cfg);
        so_info("run", "reload applied in %.0f ms: no camera changed",
                (so_time_mono() - t0) * 1000);
        return;
    }
    reload_zones(rn, cfg, &plan);
    reload_stop(rn, cfg, &plan);
    size_t n_failed = reload_start(rn, cfg, &plan);
    struct so_config **configs = realloc(rn->configs, (rn->n_configs + 1) * sizeof(*configs));
    if (!configs) {
        abort();
    }
    rn->configs = configs;
    rn->configs[rn->n_configs++] = cfg;
    so_commands_set_config(rn->cmds, cfg);
    so_info("run", "reload applied in %.0f ms: %zu camera%s, %zu with new zones, %zu restarted, "
            "%zu added, %zu removed%s", (so_time_mono() - t0) * 1000, rn->n_cams,
            rn->n_cams == 1 ? "" : "s", plan.n_zones, plan.n_restart, plan.n_add, plan.n_remove,
            n_failed ? " (some cameras could not start: see above)" : "");
    so_reload_plan_finish(&plan);
}

/* The outputs (the delivery channel with them), then the command desk it called. */
static void stop_outputs(struct runner *rn)
{
    so_commands_stop(rn->cmds);
    so_outputs_destroy(rn->outputs);
    so_commands_destroy(rn->cmds);
    rn->outputs = NULL;
    rn->cmds = NULL;
}

/*
 * The outputs and, with outputs.deliver, the command desk (app/commands.h): it journals in
 * <state_dir>/commands.jsonl and answers on the delivery channel, so it is made first and
 * outlives the outputs. 0 or -1 (logged).
 */
static int start_outputs(struct runner *rn)
{
    const struct so_config *cfg = rn->base;
    if (cfg->deliver.endpoint) {
        char *path = so_outputs_resolve(cfg, SO_CMDJOURNAL_FILE);
        rn->cmds = so_commands_create(path);
        free(path);
        if (!rn->cmds) {
            return -1;
        }
        so_commands_set_config(rn->cmds, cfg);
    }
    struct so_outputs_opts oo = {
        .config = cfg,
        .events_path = rn->opts->events_path,
        .console = !rn->opts->quiet,
        .wait_when_full = rn->opts->fast,
        .on_command = rn->cmds ? so_commands_handle : NULL,
        .command_opaque = rn->cmds,
    };
    rn->outputs = so_outputs_create(&oo);
    rn->ectx = (struct so_event_ctx){.detector_id = cfg->detector_id, .model = cfg->model,
                                     .categories = cfg->categories};
    if (!rn->outputs || (rn->cmds && so_commands_start(rn->cmds, rn->outputs, &rn->ectx) < 0)) {
        stop_outputs(rn);
        return -1;
    }
    return 0;
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

/*
 * Health is published on change and repeated by this heartbeat (HEALTH_FIRST_S after start,
 * then every HEALTH_HEARTBEAT_S, and once as the run ends), so that a subscriber that joins
 * late learns every camera's state and why: PUB drops what was sent before a subscriber joined
 * (ZeroMQ's slow joiner) and what a slow reader could not take.
 */
static void health_heartbeat(struct runner *rn)
{
    for (size_t i = 0; i < rn->n_cams; i++) {
        struct camera_run *c = rn->cams[i];
        char detail[160];
        pthread_mutex_lock(&c->health_lock);
        int h = atomic_load(&c->health);
        snprintf(detail, sizeof(detail), "%s", c->health_detail);
        pthread_mutex_unlock(&c->health_lock);
        if (h >= 0) {
            so_outputs_health(rn->outputs, c->id, so_health_name(h), detail);
        }
    }
}

/*
 * Longer than most on purpose: the whole life of the daemon in the order it happens (config,
 * model check, outputs, HTTP, cameras, the signal loop, shutdown, drain), each step a call into
 * a module; split into pieces it would hand a dozen locals from one to the next and hide the
 * order that shutdown depends on (docs/architecture.md, Threads).
 */
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

    /* Block the stop and reload signals before any thread starts, so only sigtimedwait() in
     * this thread sees them (systemd's ExecReload sends SIGHUP). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct runner rn = {.opts = opts, .base = cfg};
    rn.configs = malloc(sizeof(*rn.configs));
    if (!rn.configs) {
        abort();
    }
    rn.configs[rn.n_configs++] = cfg;
    if (start_outputs(&rn) < 0) {
        free(rn.configs);
        so_config_destroy(cfg);
        return 1;
    }
    so_info("run", "detector %s: %zu camera%s, state in %s", cfg->detector_id, cfg->n_cameras,
            cfg->n_cameras == 1 ? "" : "s", cfg->state_dir);
    if (!cfg->model) {
        so_info("run", "no model configured: detecting class-agnostic (static objects)");
    } else {
        char err[1024];
        rn.model = so_model_open(cfg->model, cfg->weights_dir, err, sizeof(err));
        if (!rn.model) {
            so_err("run", "model %s: %s", cfg->model, err);
            stop_outputs(&rn);
            free(rn.configs);
            so_config_destroy(cfg);
            return 1;
        }
        so_info("run", "object detector: %s", cfg->model);
        rn.nets = so_netshare_create(0);    /* at most one look per core at a time */
        for (size_t i = 0; i < cfg->n_cameras; i++) {
            warn_zone_classes(&rn, &cfg->cameras[i]);
        }
    }

    pthread_mutex_init(&rn.wake_lock, NULL);
    pthread_cond_init(&rn.wake, NULL);
    double run_start = so_time_wall();
    rn.cams = calloc(cfg->n_cameras, sizeof(*rn.cams));
    if (!rn.cams) {
        abort();
    }
    int status = 0;
    for (size_t i = 0; i < cfg->n_cameras; i++) {
        bool ok;
        rn.cams[rn.n_cams++] = camera_start(&rn, &cfg->cameras[i], run_start, &ok);
        if (!ok) {
            status = 1;
        }
    }

    rn.http = start_http(&rn);
    if (cfg->http_listen && !rn.http) {
        status = 1;
    }

    /* Wait for a stop signal or for every input to end; SIGHUP reloads the config. */
    bool signalled = false;
    double next_heartbeat = so_time_mono() + HEALTH_FIRST_S;
    while (!all_done(rn.cams, rn.n_cams) && !(cfg->http_listen && !rn.http)) {
        if (so_time_mono() >= next_heartbeat) {
            next_heartbeat += HEALTH_HEARTBEAT_S;
            health_heartbeat(&rn);
        }
        struct timespec ts = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGHUP) {
            reload(&rn);
        } else if (sig == SIGINT || sig == SIGTERM) {
            so_info("run", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            signalled = true;
            break;
        }
    }
    health_heartbeat(&rn);              /* once more: a run shorter than HEALTH_FIRST_S */
    so_http_set_stopping(rn.http);      /* /healthz: 503 from here on */
    for (size_t i = 0; i < rn.n_cams; i++) {
        so_source_stop(rn.cams[i]->source);
    }
    /* Inputs ended: the last events still get their evidence stills, but SIGINT/SIGTERM must
     * still stop the process within 2 s while grabs (up to 5 s each) are under way. */
    for (size_t i = 0; i < rn.n_cams && !signalled; i++) {
        while (!signalled && !so_evidence_worker_idle(rn.cams[i]->evidence)) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            int sig = sigtimedwait(&sigs, NULL, &ts);
            if (sig == SIGINT || sig == SIGTERM) {
                so_info("run", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
                signalled = true;
            }
        }
    }
    for (size_t i = 0; i < rn.n_cams && signalled; i++) {
        /* abort grabs (stop within 2 s): queued events keep their analysis images */
        so_evidence_worker_stop(rn.cams[i]->evidence);
    }
    so_http_destroy(rn.http);           /* before the cameras it borrows */
    for (size_t i = 0; i < rn.n_cams; i++) {
        camera_destroy(rn.cams[i], "at exit", &status);
    }
    so_netshare_destroy(rn.nets);       /* after the last detector */
    so_model_destroy(rn.model);
    so_commands_stop(rn.cmds);          /* no verification records from here on */
    if (!signalled) {   /* inputs ended: give the platform drain_s to acknowledge */
        so_outputs_drain(rn.outputs, cfg->deliver.drain_s, no_stop_signal, &sigs);
    }
    stop_outputs(&rn);
    so_info("run", "%s", signalled ? "stopped" : "all inputs ended");
    free(rn.cams);
    pthread_cond_destroy(&rn.wake);
    pthread_mutex_destroy(&rn.wake_lock);
    for (size_t i = 0; i < rn.n_configs; i++) {     /* the running one and every superseded */
        so_config_destroy(rn.configs[i]);
    }
    free(rn.configs);
    return status;
}
