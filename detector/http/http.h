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
 *   GET /cameras/<id>/rest.jpg        the pixels at rest (magenta on black), privacy masks applied
 *   GET /cameras/<id>/status.json     the rules' per-zone status of the last frame (console.c)
 *   GET /cameras/<id>/                the camera page (camera.html)
 *   GET /cameras.json                 every camera's health, fps, open episodes; delivery
 *   GET /i18n.json                    the console's words, by Accept-Language (i18n.h)
 *   GET /evidence/<file>              an evidence JPEG by its plain name (opts.evidence_dir)
 *   GET /                             the camera grid (grid.html)
 * Other paths are 404, other methods than GET/HEAD 405. No page ever shows a camera URL (they
 * may hold credentials).
 *
 * With a users file (opts.auth, http.auth) every path but /healthz needs HTTP Basic
 * credentials first (401 and a challenge without or with bad ones, counted on /metrics as
 * streetorder_http_unauthorized_total); the zone editor, /fields.json and the editor's check
 * and preview need the operator role (403 for a viewer). With a certificate the server speaks
 * HTTPS only. docs/http.md describes both.
 *
 * Ownership: everything in the options is borrowed and must outlive the server; the camera
 * array itself is copied. Thread-safety: create/destroy from one thread; set_stopping from any.
 */
#ifndef SO_HTTP_HTTP_H
#define SO_HTTP_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

#include "auth.h"
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
    const char *evidence_dir;           /* served under /evidence/ (copied); NULL: not served */
    struct so_auth *auth;               /* users allowed in (http.auth); NULL: no credentials
                                         * asked */
    const char *tls_cert, *tls_key;     /* PEM file paths, both or neither (read at create);
                                         * NULL: plain HTTP */
};

/* Bind and start serving. NULL after logging why (bad address, port in use, unreadable or
 * unusable certificate, no TLS in this libmicrohttpd). */
struct so_http *so_http_create(const struct so_http_opts *opts);

/* The role a request for `url` needs: SO_AUTH_NONE for /healthz, SO_AUTH_OPERATOR for the zone
 * editor, /fields.json, and /cameras/<id>/check and preview, SO_AUTH_VIEWER for anything else
 * (including unknown paths, so a stranger cannot probe which exist). Pure; any thread. */
enum so_auth_role so_http_url_role(const char *url);

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

/* `root` as text with 15 significant digits (0.45, not 0.45000000000000001), and released: a
 * malloc()ed NUL-terminated string (caller frees), its length in *len; aborts when out of
 * memory. For the JSON pages. */
char *so_http_json_dump(json_t *root, size_t *len);

/* The camera's health (enum so_health) as published, -1 before any. Any thread. */
int so_http_health(const struct so_http_camera *cam);

/*
 * The grid's document (GET /cameras.json): {"now", "time", "delivery": {enabled, pending,
 * oldest_age_s, sent, acked, last_ack, last_ack_age_s}, "cameras": [{id, health,
 * health_since, health_for_s, health_detail, fps_analysed, fps_decoded, episodes_open, zones,
 * has_frame, frame_time}]}. malloc()ed text (caller frees), length in *len; never NULL.
 * Any thread.
 */
char *so_http_cameras_json(const struct so_http_camera *cams, size_t n,
                           struct so_outputs *outputs, size_t *len);

/*
 * The camera page's document (GET /cameras/<id>/status.json, docs/http.md): the rules'
 * per-zone status from `con` (so_live_get_console), the boxes of `v` (so_live_get), and the
 * recent episodes with their evidence URLs. Formatting only. Same return as above.
 */
char *so_http_status_json(const struct so_camera_cfg *cfg, const struct so_live_view *v,
                          const struct so_live_console *con, int health, size_t *len);

/* The pixels at rest (the snapshot's magenta, on black) as JPEG; same contract as
 * so_http_snapshot(); -ENOENT before the first mask. */
int so_http_rest(const struct so_camera_cfg *cam, const struct so_live_view *v, uint8_t **jpeg,
                 size_t *size);

/*
 * The zone editor's checks (editor_check.c). so_http_fields_json: GET /fields.json, the rows of
 * the zone key table (key, type, required, default, range with its wording, what a string must
 * be) and the kinds. so_http_check_zones: the draft `zones_json` (a JSON list of zones; NULL or
 * malformed: one error saying so) run through the config loader as camera `camera`'s zones:
 * {"ok", "errors": [{"key": "zones[1].dwell_s", "message": check's words}]}. Both return
 * malloc()ed text (caller frees), length in *len; never NULL. Any thread; nothing is written.
 */
char *so_http_fields_json(size_t *len);
char *so_http_check_zones(const char *camera, const char *zones_json, size_t *len);

/*
 * What a draft zone (`polygon`: "x,y,x,y,..." in frame fractions, 3 to 64 points) would see on
 * the published view `v`: {"area_px", "at_rest_px", "occupancy" (null before a rest mask),
 * "tracks": [those whose ground footprint is half in it]}. 0 with the JSON in *out (caller
 * frees); -EINVAL for a malformed polygon, -EAGAIN before the first frame, -ENOMEM.
 */
int so_http_preview(const struct so_live_view *v, const char *polygon, char **out, size_t *len);

/* The console pages (generated at build time from grid.html and camera.html by embed.py). */
extern const char so_http_grid_html[];
extern const size_t so_http_grid_html_len;
extern const char so_http_camera_html[];
extern const size_t so_http_camera_html_len;

/* The zone editor page (generated at build time from editor.html by embed.py). */
extern const char so_http_editor_html[];
extern const size_t so_http_editor_html_len;

#endif
