/*
 * Why this file exists: operators need to see a detector that runs for months beside an NVR
 * (is it up, is each camera live, how far behind is delivery, where are the zones) without
 * reading its logs, and why a zone fired or did not. This is the server; the pages are built in
 * metrics.c, snapshot.c and console.c from the live views (live.c) the analysis threads
 * publish, the editor's checks in editor_check.c.
 *
 * Design:
 * - libmicrohttpd with its own listening thread and a small worker pool
 *   (MHD_USE_INTERNAL_POLLING_THREAD + MHD_OPTION_THREAD_POOL_SIZE): no page is ever built on
 *   a camera's or the main thread, and a slow client only ties up a worker.
 * - We bind the listening socket ourselves and hand it to MHD, so that "address in use" or
 *   "cannot assign address" is reported with the real errno.
 * - Loopback by default: the config example binds 127.0.0.1; exposing the pages is the
 *   operator's explicit choice (they show camera images), and binding elsewhere without
 *   http.auth is logged as a warning at start.
 * - Access control (http.auth, auth.c): every request but /healthz (which says only "ok")
 *   carries HTTP Basic credentials of a user in the users file; so_http_url_role() says which
 *   role a URL needs: viewer for pages, images, JSON and /metrics, operator for the zone
 *   editor and its check/preview (the actions). No or bad credentials: 401 with a Basic
 *   challenge, counted on /metrics; a viewer asking for an action: 403. The check runs before
 *   anything else, the method check included, so a stranger learns nothing but "401".
 *   Without http.auth nothing is asked, as before.
 * - TLS (http.tls_cert/tls_key): MHD over GnuTLS with the PEM files read at start; Basic
 *   credentials then never cross the network readable.
 * - Read-only and never prints a secret: the pages use camera ids, zone ids and counters only;
 *   camera URLs are never printed. The zone editor (editor.html) edits zones in the browser
 *   and exports YAML for the operator to paste: nothing here ever writes a file (its check
 *   runs the config loader on a memory file). Evidence JPEGs are served by plain file name
 *   only, from the evidence folder.
 * - The pages (grid.html at /, camera.html, editor.html) are self-contained HTML files (inline
 *   script and style) served with a Content-Security-Policy that allows nothing from
 *   elsewhere; they fetch their JSON and images from this server only.
 * - Shutdown: so_http_set_stopping() flips /healthz to 503 first; so_http_destroy() then
 *   stops MHD (closing client connections) before the cameras it borrows are destroyed.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "fsutil.h"
#include "i18n.h"
#include "log.h"
#include "respond.h"
#include "xalloc.h"

#define WHO "http"

struct so_http {
    struct MHD_Daemon *mhd;
    /* The camera list changes on reload (so_http_set_cameras). Every request runs with
     * cams_lock read-held (handle_guarded), so a handler may use any entry (cfg, source, live)
     * until it returns, and never after: the entries of a removed camera are destroyed once
     * so_http_set_cameras() has returned. */
    pthread_rwlock_t cams_lock;
    struct so_http_camera *cams;
    size_t n_cams;
    struct so_outputs *outputs;
    char *evidence_dir;                 /* NULL: /evidence/ is 404 */
    atomic_bool stopping;
    struct so_auth *auth;               /* borrowed; NULL: no credentials asked */
    atomic_ullong unauthorized;         /* 401s answered */
    atomic_ullong forbidden;            /* 403s answered */
    char *tls_cert, *tls_key;           /* PEM texts MHD was started with; NULL: plain HTTP */
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {  /* MHD ends lines itself */
        msg[--n] = 0;
    }
    so_warn(WHO, "%s", msg);
}

static const struct so_http_camera *find_camera(const struct so_http *h, const char *id,
                                                size_t len)
{
    for (size_t i = 0; i < h->n_cams; i++) {
        const char *cid = h->cams[i].cfg->id;
        if (strlen(cid) == len && memcmp(cid, id, len) == 0) {
            return &h->cams[i];
        }
    }
    return NULL;
}

/* A JPEG of the camera's latest analysed frame, rendered by `render` (the snapshot with its
 * overlays, or the bare frame the editor draws on); 503 before the first frame. */
static enum MHD_Result jpeg_page(struct MHD_Connection *conn, const struct so_http_camera *cam,
                                 int (*render)(const struct so_camera_cfg *,
                                               const struct so_live_view *, uint8_t **, size_t *),
                                 const char *what)
{
    struct so_live_view v;
    so_live_get(cam->live, true, &v);
    if (!v.frame) {
        so_live_view_finish(&v);
        return so_http_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no frame analysed yet\n");
    }
    uint8_t *jpeg = NULL;
    size_t size = 0;
    int rc = render(cam->cfg, &v, &jpeg, &size);
    so_live_view_finish(&v);
    if (rc == -ENOENT) {
        return so_http_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not computed yet\n");
    }
    if (rc < 0) {
        so_warn(cam->cfg->id, "%s failed: %s", what, strerror(-rc));
        return so_http_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "image encoding failed\n");
    }
    return so_http_reply(conn, MHD_HTTP_OK, "image/jpeg", jpeg, size, MHD_RESPMEM_MUST_FREE);
}

/* GET /evidence/<file>: an evidence JPEG the outputs wrote. Only plain names (letters, digits,
 * '.', '_', '-', not starting with '.'): nothing outside the evidence folder. */
static enum MHD_Result evidence_file(struct so_http *h, struct MHD_Connection *conn,
                                     const char *name)
{
    size_t n = strlen(name);
    if (!h->evidence_dir || n == 0 || n > 120 || name[0] == '.' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n) {
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", h->evidence_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "no such evidence file\n");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "image/jpeg");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result status_page(struct MHD_Connection *conn,
                                   const struct so_http_camera *cam)
{
    struct so_live_view v;
    struct so_live_console con;
    so_live_get(cam->live, true, &v);
    so_live_get_console(cam->live, &con);
    size_t len = 0;
    char *body = so_http_status_json(cam->cfg, &v, &con, so_http_health(cam), &len);
    so_live_console_finish(&con);
    so_live_view_finish(&v);
    return so_http_json(conn, MHD_HTTP_OK, body, len);
}

/* GET /cameras/<id>/preview?polygon=x,y,...: what a draft zone would see now. */
static enum MHD_Result preview_page(struct MHD_Connection *conn,
                                    const struct so_http_camera *cam)
{
    const char *poly = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "polygon");
    struct so_live_view v;
    so_live_get(cam->live, true, &v);
    char *body = NULL;
    size_t len = 0;
    int rc = so_http_preview(&v, poly, &body, &len);
    so_live_view_finish(&v);
    if (rc == -EINVAL) {
        return so_http_text(conn, MHD_HTTP_BAD_REQUEST,
                            "expected ?polygon=x,y,x,y,x,y (fractions)\n");
    }
    if (rc < 0) {
        return so_http_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no frame analysed yet\n");
    }
    return so_http_json(conn, MHD_HTTP_OK, body, len);
}

static enum MHD_Result i18n_page(struct MHD_Connection *conn)
{
    const char *al = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Language");
    size_t len = 0;
    char *body = so_i18n_json(so_i18n_pick(al), &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Language");
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

enum so_auth_role so_http_url_role(const char *url)
{
    if (strcmp(url, "/healthz") == 0) {
        return SO_AUTH_NONE;
    }
    static const char prefix[] = "/cameras/";
    const char *slash = strrchr(url, '/');
    if (strcmp(url, "/fields.json") == 0 ||
        (strncmp(url, prefix, sizeof(prefix) - 1) == 0 && slash > url + sizeof(prefix) - 1 &&
         (!strcmp(slash, "/editor") || !strcmp(slash, "/check") || !strcmp(slash, "/preview")))) {
        return SO_AUTH_OPERATOR;
    }
    return SO_AUTH_VIEWER;
}

/* The access check (see the design block): MHD_YES with *done false when the request may go
 * on; otherwise the 401/403 was queued (or failed) and that is the answer. */
static enum MHD_Result gate(struct so_http *h, struct MHD_Connection *conn, const char *url,
                            bool *done)
{
    *done = false;
    enum so_auth_role need = so_http_url_role(url);
    if (!h->auth || need == SO_AUTH_NONE) {
        return MHD_YES;
    }
    const char *authz =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    enum so_auth_role have = so_auth_check(h->auth, authz);
    switch (so_auth_decide(need, have)) {
    case SO_AUTH_ALLOW:
        return MHD_YES;
    case SO_AUTH_UNAUTHORIZED:
        *done = true;
        atomic_fetch_add(&h->unauthorized, 1);
        return so_http_challenge(conn);
    default:
        *done = true;
        atomic_fetch_add(&h->forbidden, 1);
        return so_http_text(conn, MHD_HTTP_FORBIDDEN, "this needs the operator role\n");
    }
}

/* /metrics: the cameras' and outputs' page (metrics.c) and this server's own counters. */
static enum MHD_Result metrics_page(struct so_http *h, struct MHD_Connection *conn)
{
    size_t len = 0;
    char *body = so_http_metrics(h->cams, h->n_cams, h->outputs, &len);
    char *all = so_xprintf(
        "%s# HELP streetorder_http_unauthorized_total Requests answered 401: no or bad "
        "credentials (http.auth).\n"
        "# TYPE streetorder_http_unauthorized_total counter\n"
        "streetorder_http_unauthorized_total %llu\n"
        "# HELP streetorder_http_forbidden_total Requests answered 403: a viewer asking for an "
        "operator's action.\n"
        "# TYPE streetorder_http_forbidden_total counter\n"
        "streetorder_http_forbidden_total %llu\n",
        body, atomic_load(&h->unauthorized), atomic_load(&h->forbidden));
    free(body);
    return so_http_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", all,
                         strlen(all), MHD_RESPMEM_MUST_FREE);
}

/* /cameras/<id>/<leaf>: the id is everything up to the last '/'; 404 for anything else. */
static enum MHD_Result camera_page(struct so_http *h, struct MHD_Connection *conn,
                                   const char *url)
{
    static const char prefix[] = "/cameras/";
    static const char *const leaves[] = {"", "snapshot.jpg", "frame.jpg", "rest.jpg",
                                         "zones.json", "status.json", "check", "preview",
                                         "editor"};
    size_t plen = sizeof(prefix) - 1;
    const char *slash = strrchr(url, '/');
    if (strncmp(url, prefix, plen) != 0 || slash < url + plen + 1) {
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    const char *leaf = slash + 1;
    size_t k = 0;
    while (k < sizeof(leaves) / sizeof(leaves[0]) && strcmp(leaf, leaves[k]) != 0) {
        k++;
    }
    if (k == sizeof(leaves) / sizeof(leaves[0])) {
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    const struct so_http_camera *cam = find_camera(h, url + plen, (size_t)(slash - url - plen));
    if (!cam) {
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "no such camera\n");
    }
    switch (k) {
    case 0:
        return so_http_html(conn, so_http_camera_html, so_http_camera_html_len);
    case 1:
        return jpeg_page(conn, cam, so_http_snapshot, "snapshot");
    case 2:
        return jpeg_page(conn, cam, so_http_frame, "frame encoding");
    case 3:
        return jpeg_page(conn, cam, so_http_rest, "rest mask");
    case 4: {
        size_t len = 0;
        char *body = so_http_zones_json(cam->cfg, &len);
        return so_http_reply(conn, MHD_HTTP_OK, "application/json", body, len,
                             MHD_RESPMEM_MUST_FREE);
    }
    case 5:
        return status_page(conn, cam);
    case 6: {
        size_t len = 0;
        const char *zones = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "zones");
        char *body = so_http_check_zones(cam->cfg->id, zones, &len);
        return so_http_json(conn, MHD_HTTP_OK, body, len);
    }
    case 7:
        return preview_page(conn, cam);
    default:
        return so_http_html(conn, so_http_editor_html, so_http_editor_html_len);
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct so_http *h = cls;
    bool done = false;
    enum MHD_Result rc = gate(h, conn, url, &done);
    if (done || rc != MHD_YES) {
        return rc;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return so_http_not_allowed(conn, "GET, HEAD");
    }
    if (strcmp(url, "/healthz") == 0) {
        return atomic_load(&h->stopping)
                   ? so_http_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n")
                   : so_http_text(conn, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        return metrics_page(h, conn);
    }
    if (strcmp(url, "/") == 0) {
        return so_http_html(conn, so_http_grid_html, so_http_grid_html_len);
    }
    if (strcmp(url, "/cameras.json") == 0) {
        size_t len = 0;
        char *body = so_http_cameras_json(h->cams, h->n_cams, h->outputs, &len);
        return so_http_json(conn, MHD_HTTP_OK, body, len);
    }
    if (strcmp(url, "/i18n.json") == 0) {
        return i18n_page(conn);
    }
    if (strcmp(url, "/fields.json") == 0) {
        size_t len = 0;
        char *body = so_http_fields_json(&len);
        return so_http_json(conn, MHD_HTTP_OK, body, len);
    }
    static const char evidence[] = "/evidence/";
    if (strncmp(url, evidence, sizeof(evidence) - 1) == 0) {
        return evidence_file(h, conn, url + sizeof(evidence) - 1);
    }
    return camera_page(h, conn, url);
}

/* Every request, whatever its path, holds the camera list read-locked (see struct so_http). */
static enum MHD_Result handle_guarded(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct so_http *h = cls;
    pthread_rwlock_rdlock(&h->cams_lock);
    enum MHD_Result rc = handle(cls, conn, url, method, version, upload_data, upload_data_size,
                                req_cls);
    pthread_rwlock_unlock(&h->cams_lock);
    return rc;
}

/* http.tls_cert/tls_key into h (PEM texts): false after logging why. */
static bool load_tls(struct so_http *h, const struct so_http_opts *opts)
{
    if (!opts->tls_cert) {
        return true;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        so_err(WHO, "http.tls_cert is set but this libmicrohttpd has no TLS (GnuTLS) support");
        return false;
    }
    const char *paths[2] = {opts->tls_cert, opts->tls_key};
    char **texts[2] = {&h->tls_cert, &h->tls_key};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        *texts[i] = so_fs_read_small(paths[i], 1 << 20, &len);
        if (!*texts[i]) {
            so_err(WHO, "cannot read %s: %s", paths[i], strerror(errno));
            return false;
        }
    }
    return true;
}

/* Free what create made (also its failure path); MHD must be stopped already. */
static void free_server(struct so_http *h)
{
    pthread_rwlock_destroy(&h->cams_lock);
    free(h->cams);
    free(h->evidence_dir);
    free(h->tls_cert);
    if (h->tls_key) {
        explicit_bzero(h->tls_key, strlen(h->tls_key));
    }
    free(h->tls_key);
    free(h);
}

struct so_http *so_http_create(const struct so_http_opts *opts)
{
    bool ipv6 = false;
    int fd = so_http_listen_socket(opts->listen, &ipv6,
                                   opts->auth ? NULL : "sees the camera images (http.auth, "
                                                       "docs/http.md)");
    if (fd < 0) {
        return NULL;
    }
    struct so_http *h = calloc(1, sizeof(*h));
    if (!h) {
        abort();
    }
    atomic_init(&h->stopping, false);
    atomic_init(&h->unauthorized, 0);
    atomic_init(&h->forbidden, 0);
    /* Writer preference: a reload is not starved by a busy /metrics scraper. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->cams_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    h->n_cams = opts->n_cameras;
    h->cams = calloc(h->n_cams ? h->n_cams : 1, sizeof(*h->cams));
    if (!h->cams) {
        abort();
    }
    if (h->n_cams) {
        memcpy(h->cams, opts->cameras, h->n_cams * sizeof(*h->cams));
    }
    h->outputs = opts->outputs;
    h->evidence_dir = opts->evidence_dir ? strdup(opts->evidence_dir) : NULL;
    h->auth = opts->auth;
    unsigned int threads = opts->threads > 0 ? (unsigned int)opts->threads : 2;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ipv6) {
        flags |= MHD_USE_IPv6;
    }
    if (!load_tls(h, opts)) {
        close(fd);
        free_server(h);
        return NULL;
    }
    /* The TLS options come last: without a certificate the list ends before them. */
    h->mhd = MHD_start_daemon(flags | (h->tls_cert ? MHD_USE_TLS : 0), 0, NULL, NULL,
                              handle_guarded, h,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_THREAD_POOL_SIZE, threads,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                              h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
                              h->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, h->tls_key,
                              MHD_OPTION_END);
    if (!h->mhd) {
        so_err(WHO, "cannot start the HTTP server on %s%s", opts->listen,
               h->tls_cert ? " (is the certificate/key pair valid PEM?)" : "");
        close(fd);
        free_server(h);
        return NULL;
    }
    so_info(WHO, "serving the console, /healthz, /metrics, snapshots and the zone editor on "
            "%s://%s/ (%s)",
            h->tls_cert ? "https" : "http", opts->listen,
            h->auth ? "users file: viewer and operator roles" : "no credentials asked");
    return h;
}

void so_http_set_stopping(struct so_http *h)
{
    if (h) {
        atomic_store(&h->stopping, true);
    }
}

void so_http_set_cameras(struct so_http *h, const struct so_http_camera *cams, size_t n)
{
    if (!h) {
        return;
    }
    struct so_http_camera *copy = calloc(n ? n : 1, sizeof(*copy));
    if (!copy) {
        abort();
    }
    if (n) {
        memcpy(copy, cams, n * sizeof(*copy));
    }
    pthread_rwlock_wrlock(&h->cams_lock);
    struct so_http_camera *old = h->cams;
    h->cams = copy;
    h->n_cams = n;
    pthread_rwlock_unlock(&h->cams_lock);
    free(old);
}

void so_http_destroy(struct so_http *h)
{
    if (!h) {
        return;
    }
    atomic_store(&h->stopping, true);
    MHD_stop_daemon(h->mhd);
    free_server(h);
}
