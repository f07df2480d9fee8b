/*
 * Why this file exists: operators need to see a detector that runs for months beside an NVR
 * (is it up, is each camera live, how far behind is delivery, where are the zones) without
 * reading its logs. This is the server; the pages are built in metrics.c and snapshot.c from
 * the live views (live.c) the analysis threads publish.
 *
 * Design:
 * - libmicrohttpd with its own listening thread and a small worker pool
 *   (MHD_USE_INTERNAL_POLLING_THREAD + MHD_OPTION_THREAD_POOL_SIZE): no page is ever built on
 *   a camera's or the main thread, and a slow client only ties up a worker.
 * - We bind the listening socket ourselves and hand it to MHD, so that "address in use" or
 *   "cannot assign address" is reported with the real errno.
 * - Loopback by default: the config example binds 127.0.0.1; exposing the pages is the
 *   operator's explicit choice (they show camera images).
 * - Read-only and credential-free: the pages use camera ids, zone ids and counters only;
 *   camera URLs are never printed.
 * - Shutdown: so_http_set_stopping() flips /healthz to 503 first; so_http_destroy() then
 *   stops MHD (closing client connections) before the cameras it borrows are destroyed.
 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define WHO "http"

struct so_http {
    struct MHD_Daemon *mhd;
    struct so_http_camera *cams;
    size_t n_cams;
    struct so_outputs *outputs;
    atomic_bool stopping;
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

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) {
            free(body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned int status, const char *msg)
{
    return reply(conn, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
                 MHD_RESPMEM_PERSISTENT);
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

static enum MHD_Result snapshot(struct so_http *h, struct MHD_Connection *conn,
                                const struct so_http_camera *cam)
{
    struct so_live_view v;
    so_live_get(cam->live, true, &v);
    if (!v.frame) {
        so_live_view_finish(&v);
        return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no frame analysed yet\n");
    }
    uint8_t *jpeg = NULL;
    size_t size = 0;
    int rc = so_http_snapshot(cam->cfg, &v, &jpeg, &size);
    so_live_view_finish(&v);
    if (rc < 0) {
        so_warn(cam->cfg->id, "snapshot failed: %s", strerror(-rc));
        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "snapshot failed\n");
    }
    return reply(conn, MHD_HTTP_OK, "image/jpeg", jpeg, size, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result index_page(struct so_http *h, struct MHD_Connection *conn)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        abort();
    }
    fputs("streetorder\n\n/healthz\n/metrics\n", f);
    for (size_t i = 0; i < h->n_cams; i++) {
        fprintf(f, "/cameras/%s/snapshot.jpg\n", h->cams[i].cfg->id);
    }
    if (fclose(f) != 0 || !buf) {
        abort();
    }
    return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", buf, size,
                 MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    struct so_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    if (strcmp(url, "/healthz") == 0) {
        return atomic_load(&h->stopping)
                   ? text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n")
                   : text(conn, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = so_http_metrics(h->cams, h->n_cams, h->outputs, &len);
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/") == 0) {
        return index_page(h, conn);
    }
    static const char prefix[] = "/cameras/", suffix[] = "/snapshot.jpg";
    size_t ulen = strlen(url), plen = sizeof(prefix) - 1, slen = sizeof(suffix) - 1;
    if (ulen > plen + slen && strncmp(url, prefix, plen) == 0 &&
        strcmp(url + ulen - slen, suffix) == 0) {
        const struct so_http_camera *cam = find_camera(h, url + plen, ulen - plen - slen);
        if (!cam) {
            return text(conn, MHD_HTTP_NOT_FOUND, "no such camera\n");
        }
        return snapshot(h, conn, cam);
    }
    return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Split "HOST:PORT" ("[v6]:PORT" too), resolve and bind a listening socket. -1 after logging. */
static int bind_listen(const char *listen_at, bool *ipv6)
{
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof(host)) {
        so_err(WHO, "listen address %s: expected HOST:PORT", listen_at);
        return -1;
    }
    size_t hlen = (size_t)(colon - listen_at);
    memcpy(host, listen_at, hlen);
    host[hlen] = 0;
    char *node = host;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = 0;
        node = host + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*node ? node : NULL, colon + 1, &hints, &res);
    if (gai != 0) {
        so_err(WHO, "listen address %s: %s", listen_at, gai_strerror(gai));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            *ipv6 = ai->ai_family == AF_INET6;
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        so_err(WHO, "cannot listen on %s: %s", listen_at, strerror(err));
    }
    return fd;
}

struct so_http *so_http_create(const struct so_http_opts *opts)
{
    bool ipv6 = false;
    int fd = bind_listen(opts->listen, &ipv6);
    if (fd < 0) {
        return NULL;
    }
    struct so_http *h = calloc(1, sizeof(*h));
    if (!h) {
        abort();
    }
    atomic_init(&h->stopping, false);
    h->n_cams = opts->n_cameras;
    h->cams = calloc(h->n_cams ? h->n_cams : 1, sizeof(*h->cams));
    if (!h->cams) {
        abort();
    }
    if (h->n_cams) {
        memcpy(h->cams, opts->cameras, h->n_cams * sizeof(*h->cams));
    }
    h->outputs = opts->outputs;
    unsigned int threads = opts->threads > 0 ? (unsigned int)opts->threads : 2;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ipv6) {
        flags |= MHD_USE_IPv6;
    }
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_THREAD_POOL_SIZE, threads,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                              MHD_OPTION_END);
    if (!h->mhd) {
        so_err(WHO, "cannot start the HTTP server on %s", opts->listen);
        close(fd);
        free(h->cams);
        free(h);
        return NULL;
    }
    so_info(WHO, "serving /healthz, /metrics and camera snapshots on http://%s/", opts->listen);
    return h;
}

void so_http_set_stopping(struct so_http *h)
{
    if (h) {
        atomic_store(&h->stopping, true);
    }
}

void so_http_destroy(struct so_http *h)
{
    if (!h) {
        return;
    }
    atomic_store(&h->stopping, true);
    MHD_stop_daemon(h->mhd);
    free(h->cams);
    free(h);
}
