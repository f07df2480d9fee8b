/*
 * Why this file exists: the /metrics page, in Prometheus text exposition format 0.0.4, built
 * in one place from what the other modules already count (source stats, the live view that
 * the analysis thread publishes, the outputs and delivery counters).
 *
 * Format rules that matter (checked by `promtool check metrics` in tests/e2e/test_http.py):
 * every family has HELP and TYPE lines and its samples follow them contiguously, so the page
 * is printed family by family with the cameras inside; counters end in _total; label values
 * are escaped (\\, \", \n). The figures of each camera are read once at the start, so one
 * page is a consistent-enough snapshot without holding any lock while printing.
 *
 * Camera health is one-hot: streetorder_camera_health{camera,health} is 1 for the current
 * state and 0 for the other three (live, blind, moved, tampered), which alerts and dashboards
 * read more easily than a numeric enum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "so_build_config.h"

struct cam_figures {
    struct so_source_stats src;
    bool has_source;
    struct so_live_view view;
    uint64_t opened, cleared, lat_sum_ns, lat_last_ns;
    uint64_t warned, warned_opened, warned_cleared;
    uint64_t lat_le[SO_LIVE_N_BUCKETS + 1];
    int open;
    struct so_look_stats looks;         /* zeros without a detector */
    double stage_s[SO_STAGE_COUNT];     /* zeros without stage counters */
};

static void label_value(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*s, f);
        }
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_cam(FILE *f, const char *name, const char *cam, double v)
{
    fprintf(f, "%s{camera=\"", name);
    label_value(f, cam);
    fprintf(f, "\"} %.9g\n", v);
}

/* One family per camera figure: `field` picks the value from the figures. */
#define CAM_FAMILY(name, type, help, expr)                                                      \
    do {                                                                                        \
        family(f, name, type, help);                                                            \
        for (size_t i = 0; i < n_cams; i++) {                                                   \
            const struct cam_figures *c = &fig[i];                                              \
            sample_cam(f, name, cams[i].cfg->id, (double)(expr));                               \
        }                                                                                       \
    } while (0)

static void camera_families(FILE *f, const struct so_http_camera *cams, size_t n_cams,
                            const struct cam_figures *fig)
{
    CAM_FAMILY("streetorder_frames_decoded_total", "counter",
               "Frames decoded from the camera's stream.", c->src.frames_decoded);
    CAM_FAMILY("streetorder_frames_analysed_total", "counter",
               "Frames handed to analysis (at the analysis fps).", c->src.frames_analysed);
    CAM_FAMILY("streetorder_frames_dropped_total", "counter",
               "Frames due for analysis dropped because analysis was busy (latest wins).",
               c->src.frames_dropped);
    CAM_FAMILY("streetorder_decode_errors_total", "counter",
               "Packets or frames the decoder rejected.", c->src.decode_errors);
    CAM_FAMILY("streetorder_reconnects_total", "counter",
               "Reconnections after the input was lost.", c->src.reconnects);
    CAM_FAMILY("streetorder_fps_decoded", "gauge",
               "Frames decoded per second over the last window of at least 2 s "
               "(0 when nothing was analysed for 3 s).", c->view.fps_decoded);
    CAM_FAMILY("streetorder_fps_analysed", "gauge",
               "Frames analysed per second over the last window of at least 2 s "
               "(0 when nothing was analysed for 3 s).", c->view.fps_analysed);

    family(f, "streetorder_camera_health", "gauge",
           "Camera health, one-hot: 1 for the current state (live, blind, moved, tampered).");
    for (size_t i = 0; i < n_cams; i++) {
        for (int h = SO_HEALTH_LIVE; h <= SO_HEALTH_TAMPERED; h++) {
            fputs("streetorder_camera_health{camera=\"", f);
            label_value(f, cams[i].cfg->id);
            int now = cams[i].health ? atomic_load(cams[i].health) : -1;
            if (now < 0 && fig[i].has_source) {
                now = (int)fig[i].src.health;
            }
            bool on = now == h;
            fprintf(f, "\",health=\"%s\"} %d\n", so_health_name((enum so_health)h), on);
        }
    }

    CAM_FAMILY("streetorder_episodes_open", "gauge",
               "Violation episodes open now (all zones).", c->open);
    CAM_FAMILY("streetorder_episodes_opened_total", "counter",
               "Violation episodes opened (an 'opened' event went out).", c->opened);
    CAM_FAMILY("streetorder_episodes_cleared_total", "counter",
               "Violation episodes cleared (a 'cleared' event went out).", c->cleared);
    CAM_FAMILY("streetorder_warnings_total", "counter",
               "Warnings issued (a zone's warn_s: a 'warning' event went out).", c->warned);
    CAM_FAMILY("streetorder_warnings_opened_total", "counter",
               "Warnings that became cases (the 'opened' event of a warned episode went out).",
               c->warned_opened);
    CAM_FAMILY("streetorder_warnings_cleared_total", "counter",
               "Warnings cleared with no case (a 'warning_cleared' event went out).",
               c->warned_cleared);
    CAM_FAMILY("streetorder_analysis_last_seconds", "gauge",
               "Analysis time of the last analysed frame (detector, tracker, rules, events).",
               (double)c->lat_last_ns * 1e-9);

    family(f, "streetorder_analysis_seconds", "histogram",
           "Analysis time per frame (detector, tracker, rules, events).");
    for (size_t i = 0; i < n_cams; i++) {
        const struct cam_figures *c = &fig[i];
        uint64_t cum = 0;
        for (int b = 0; b <= SO_LIVE_N_BUCKETS; b++) {
            cum += c->lat_le[b];
            fputs("streetorder_analysis_seconds_bucket{camera=\"", f);
            label_value(f, cams[i].cfg->id);
            if (b < SO_LIVE_N_BUCKETS) {
                fprintf(f, "\",le=\"%g\"} %llu\n", so_live_buckets[b], (unsigned long long)cum);
            } else {
                fprintf(f, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            }
        }
        sample_cam(f, "streetorder_analysis_seconds_sum", cams[i].cfg->id,
                   (double)c->lat_sum_ns * 1e-9);
        /* _count equals the +Inf bucket: derived from the same reads, never racing apart */
        sample_cam(f, "streetorder_analysis_seconds_count", cams[i].cfg->id, (double)cum);
    }
}

/*
 * Where the time goes and how the shared network treats each camera (issue 15): CPU seconds
 * per stage, and the looks each camera got from the network, how many waited for an instance
 * (other cameras were looking) and how long. No look is ever refused (detect/netpool.c), so
 * there is no denied counter: a busy network shows as waits.
 */
static void network_families(FILE *f, const struct so_http_camera *cams, size_t n_cams,
                             const struct cam_figures *fig)
{
    family(f, "streetorder_stage_cpu_seconds_total", "counter",
           "CPU seconds spent per stage of the camera's pipeline (decode, scale, static, "
           "network, tracker, rules, other).");
    for (size_t i = 0; i < n_cams; i++) {
        for (int st = 0; st < SO_STAGE_COUNT; st++) {
            fputs("streetorder_stage_cpu_seconds_total{camera=\"", f);
            label_value(f, cams[i].cfg->id);
            fprintf(f, "\",stage=\"%s\"} %.6f\n", so_stage_name(st), fig[i].stage_s[st]);
        }
    }
    CAM_FAMILY("streetorder_detector_looks_total", "counter",
               "Looks of the object detector's network (one per region looked at).",
               c->looks.looks);
    CAM_FAMILY("streetorder_detector_looks_waited_total", "counter",
               "Looks that waited for the shared network (every instance busy with other "
               "cameras' looks); served first come, first served.", c->looks.waited);
    CAM_FAMILY("streetorder_detector_look_wait_seconds_total", "counter",
               "Time the camera's looks spent waiting for the shared network.",
               c->looks.wait_s);
}

static void delivery_families(FILE *f, struct so_outputs *outputs)
{
    struct so_delivery_stats d;
    so_outputs_delivery_stats(outputs, &d);
    unsigned long events = outputs ? so_outputs_count(outputs) : 0;
    unsigned long lost = outputs ? so_outputs_lost(outputs) : 0;
    unsigned long dropped = so_outputs_dropped(outputs);
    family(f, "streetorder_events_total", "counter", "Event records written.");
    fprintf(f, "streetorder_events_total %lu\n", events);
    family(f, "streetorder_events_lost_total", "counter",
           "Events that could not be journalled in the outbox (quota or disk full).");
    fprintf(f, "streetorder_events_lost_total %lu\n", lost);
    family(f, "streetorder_events_dropped_total", "counter",
           "Events dropped because the outputs queue was full (a stalled disk or outbox).");
    fprintf(f, "streetorder_events_dropped_total %lu\n", dropped);
    family(f, "streetorder_events_queued", "gauge",
           "Events waiting in the outputs queue for their writes.");
    fprintf(f, "streetorder_events_queued %zu\n", outputs ? so_outputs_queued(outputs) : 0);
    struct so_latency_stats lat = {0};
    if (outputs) {
        so_outputs_latency(outputs, &lat);
    }
    family(f, "streetorder_event_latency_seconds", "summary",
           "From the decoding of the frame that decided an event to the event written "
           "everywhere (outbox, files, live feed); quantiles over the last 4096 events.");
    if (lat.n) {
        fprintf(f, "streetorder_event_latency_seconds{quantile=\"0.5\"} %.6f\n", lat.p50);
        fprintf(f, "streetorder_event_latency_seconds{quantile=\"0.99\"} %.6f\n", lat.p99);
    }
    fprintf(f, "streetorder_event_latency_seconds_count %lu\n", lat.n);
    fprintf(f, "streetorder_event_latency_seconds_sum %.6f\n", lat.sum);
    family(f, "streetorder_delivery_enabled", "gauge",
           "1 when reliable delivery to the platform is configured (outputs.deliver).");
    fprintf(f, "streetorder_delivery_enabled %d\n", d.enabled);
    family(f, "streetorder_delivery_outbox_depth", "gauge",
           "Events in the outbox not acknowledged by the platform yet.");
    fprintf(f, "streetorder_delivery_outbox_depth %zu\n", d.pending);
    family(f, "streetorder_delivery_outbox_bytes", "gauge", "Size of the outbox segment files.");
    fprintf(f, "streetorder_delivery_outbox_bytes %llu\n", (unsigned long long)d.outbox_bytes);
    family(f, "streetorder_delivery_oldest_unacked_age_seconds", "gauge",
           "Age of the oldest unacknowledged event in the outbox (0 when none).");
    fprintf(f, "streetorder_delivery_oldest_unacked_age_seconds %.3f\n", d.oldest_age_s);
    family(f, "streetorder_delivery_sent_total", "counter",
           "Events sent to the platform for the first time since start.");
    fprintf(f, "streetorder_delivery_sent_total %llu\n", (unsigned long long)d.sent);
    family(f, "streetorder_delivery_acks_total", "counter",
           "Acknowledgements received from the platform since start.");
    fprintf(f, "streetorder_delivery_acks_total %llu\n", (unsigned long long)d.acked);
    family(f, "streetorder_delivery_resends_total", "counter",
           "Events resent after an acknowledgement timeout since start.");
    fprintf(f, "streetorder_delivery_resends_total %llu\n", (unsigned long long)d.resent);
    family(f, "streetorder_commands_total", "counter",
           "Commands from the platform with a valid id since start (each answered).");
    fprintf(f, "streetorder_commands_total %llu\n", (unsigned long long)d.commands);
    family(f, "streetorder_commands_garbage_total", "counter",
           "Messages from the platform ignored since start: neither an ACK nor a command.");
    fprintf(f, "streetorder_commands_garbage_total %llu\n", (unsigned long long)d.garbage);
}

char *so_http_metrics(const struct so_http_camera *cams, size_t n_cams,
                      struct so_outputs *outputs, size_t *len)
{
    struct cam_figures *fig = calloc(n_cams ? n_cams : 1, sizeof(*fig));
    if (!fig) {
        abort();
    }
    for (size_t i = 0; i < n_cams; i++) {
        struct cam_figures *c = &fig[i];
        if (cams[i].source) {
            so_source_get_stats(cams[i].source, &c->src);
            c->has_source = true;
        }
        struct so_live *l = cams[i].live;
        if (l) {
            so_live_get(l, false, &c->view);
            c->opened = atomic_load(&l->episodes_opened);
            c->cleared = atomic_load(&l->episodes_cleared);
            c->warned = atomic_load(&l->warnings_issued);
            c->warned_opened = atomic_load(&l->warnings_opened);
            c->warned_cleared = atomic_load(&l->warnings_cleared);
            c->open = atomic_load(&l->episodes_open);
            c->lat_sum_ns = atomic_load(&l->latency_sum_ns);
            c->lat_last_ns = atomic_load(&l->latency_last_ns);
            for (int b = 0; b <= SO_LIVE_N_BUCKETS; b++) {
                c->lat_le[b] = atomic_load(&l->latency_le[b]);
            }
        }
        so_detector_look_stats(cams[i].detector, &c->looks);
        for (int st = 0; st < SO_STAGE_COUNT; st++) {
            c->stage_s[st] = so_stages_get(cams[i].stages, st);
        }
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        abort();
    }
    family(f, "streetorder_build_info", "gauge", "Always 1; the version in a label.");
    fprintf(f, "streetorder_build_info{version=\"%s\"} 1\n", SO_VERSION);
    camera_families(f, cams, n_cams, fig);
    network_families(f, cams, n_cams, fig);
    delivery_families(f, outputs);
    if (fclose(f) != 0 || !buf) {
        abort();
    }
    for (size_t i = 0; i < n_cams; i++) {
        so_live_view_finish(&fig[i].view);
    }
    free(fig);
    *len = size;
    return buf;
}
