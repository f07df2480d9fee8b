/*
 * The operators' HTTP server (libmicrohttpd, its own listening thread and a small pool of
 * worker threads): read-only pages about the running detector.
 *
 *   GET /healthz                      200 "ok" while the process runs its config; 503
 *                                     "shutting down" after so_http_set_stopping()
 *   GET /metrics                      Prometheus text format 0.0.4 (see docs/http.md)
 *   GET /cameras/<id>/snapshot.jpg    latest analysed frame with zones, stationary pixels and
 *                                     tracks drawn, privacy masks applied; 404 for an unknown
 *                                     camera, 503 before its first analysed frame
 *   GET /cameras/<id>/frame.jpg       the same frame without overlays (privacy masks applied)
 *   GET /cameras/<id>/zones.json      the camera's zones as configured (see zones.c)
 *   GET /cameras/<id>/editor          the zone editor page (editor.html; never writes anything)
 *   GET /                             an HTML index (camera ids, links to the paths above)
 * Other paths are 404, other methods than GET/HEAD 405. No page ever shows a camera URL (they
 * may hold credentials).
 *
 * Ownership: everything in the options is borrowed and must outlive the server; the camera
 * array itself is copied. Thread-safety: create/destroy from one thread; set_stopping from any.
 */
#ifndef SO_HTTP_HTTP_H
#define SO_HTTP_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "live.h"
#include "outputs.h"
#include "detector.h"
#include "source.h"
#include "stages.h"

struct so_http_camera {
    const struct so_camera_cfg *cfg;    /* id, zones, privacy masks */
    struct so_source *source;           /* frame counters and health; NULL: none (not started) */
    struct so_live *live;               /* what the analysis thread publishes */
    const atomic_int *health;           /* the camera's health as published (enum so_health,
                                         * -1 before any), including moved/tampered from the
                                         * view check; NULL: the source's own (live/blind) */
    struct so_detector *detector;       /* look counters (so_detector_look_stats); NULL: none */
    const struct so_stages *stages;     /* CPU seconds per stage; NULL: none */
};

struct so_http_opts {
    const char *listen;                 /* "HOST:PORT" (HOST: name, IPv4, or [IPv6]) */
    const struct so_http_camera *cameras;
    size_t n_cameras;
    struct so_outputs *outputs;         /* event and delivery figures; may be NULL */
    int threads;                        /* worker threads; 0 = 2 */
};

/* Bind and start serving. NULL after logging why (bad address, port in use). */
struct so_http *so_http_create(const struct so_http_opts *opts);

/* The process is shutting down: /healthz answers 503 from now on. Any thread; accepts NULL. */
void so_http_set_stopping(struct so_http *h);

/*
 * Reload: serve these cameras from now on (the array is copied; entries borrowed like at
 * create). Waits for the requests in progress to finish (they hold the list read-locked), so
 * once it returns no handler uses an entry that is not in `cams`: a removed camera's source and
 * live view may then be destroyed. Any thread but a handler's; accepts NULL.
 */
void so_http_set_cameras(struct so_http *h, const struct so_http_camera *cams, size_t n);

/* Stop serving (closes open connections, joins the threads) and free. Accepts NULL. */
void so_http_destroy(struct so_http *h);

/*
 * Render the /metrics page for these cameras and outputs (for the server and tests).
 * Returns a malloc()ed NUL-terminated text and its length in *len; never NULL (aborts when
 * out of memory, like other small allocations).
 */
char *so_http_metrics(const struct so_http_camera *cams, size_t n_cams,
                      struct so_outputs *outputs, size_t *len);

/*
 * Render a snapshot of `cam` from a live view (v->frame must be set) as JPEG: a malloc()ed
 * buffer in *jpeg (caller frees), its size in *size. Returns 0 or a negative errno.
 */
int so_http_snapshot(const struct so_camera_cfg *cam, const struct so_live_view *v,
                     uint8_t **jpeg, size_t *size);

/* The same frame without overlays, privacy masks still filled black (the zone editor's
 * background). Same contract as so_http_snapshot(). */
int so_http_frame(const struct so_camera_cfg *cam, const struct so_live_view *v, uint8_t **jpeg,
                  size_t *size);

/*
 * The camera's zones as JSON: {"camera", "kinds": [the 4 kind names], "zones": [{id, kind,
 * polygon [[x, y]...] in frame fractions, dwell_s, and each optional key whose value differs
 * from its default; schedule as a list of windows}]}. Never a URL. Returns a malloc()ed
 * NUL-terminated text (caller frees) and its length in *len; never NULL (aborts when out of
 * memory). Any thread (the config is immutable).
 */
char *so_http_zones_json(const struct so_camera_cfg *cam, size_t *len);

/* The zone editor page (generated at build time from editor.html by embed.py). */
extern const char so_http_editor_html[];
extern const size_t so_http_editor_html_len;

#endif
