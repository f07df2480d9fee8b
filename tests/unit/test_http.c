/* Unit tests of the HTTP module: the live view (counters, latest frame, fps), the /metrics
 * text, and the server's answers over a real loopback socket, including /healthz going 503
 * after so_http_set_stopping() (hard to catch in the end-to-end test: shutdown is quick). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "testlib.h"

/* Like CHECK_CONTAINS, without printing the whole page into the TAP line. */
#define HAS(hay, needle)                                                                      \
    so_test_check(strstr((hay), (needle)) != NULL, __FILE__, __LINE__, "contains %.*s",       \
                  (int)strcspn((needle), "\n"), (needle))

/* GET path over HTTP/1.0; returns the status code (-1 on a socket error), body in buf. */
static int fetch(int port, const char *method, const char *path, char *buf, size_t size,
                 size_t *body_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: x\r\n\r\n", method, path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < size && (r = read(fd, buf + got, size - 1 - got)) > 0) {
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    int status = -1;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    char *body = strstr(buf, "\r\n\r\n");
    if (body_len) {
        *body_len = body ? got - (size_t)(body + 4 - buf) : 0;
    }
    if (body) {
        memmove(buf, body + 4, got - (size_t)(body + 4 - buf) + 1);
    }
    return status;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

int main(void)
{
    struct so_pointf zone_pts[] = {{0.1, 0.5}, {0.9, 0.5}, {0.9, 0.9}, {0.1, 0.9}};
    struct so_pointf mask_pts[] = {{0, 0}, {0.5, 0}, {0.5, 0.5}, {0, 0.5}};
    struct so_zone_cfg zone = {.id = "bay \"1\"", .kind = SO_ZONE_ILLEGAL_PARKING,
                               .polygon = {zone_pts, 4}};
    struct so_polygon mask = {mask_pts, 4};
    struct so_camera_cfg cam = {.id = "cam\"1", .url = "rtsp://u:secret@h/x", .zones = &zone,
                                .n_zones = 1, .privacy_masks = &mask, .n_privacy_masks = 1};
    struct so_live live;
    so_live_init(&live);

    /* live view: counters and the latest frame */
    so_live_count(&live, SO_EPISODE_OPENED);
    so_live_count(&live, SO_EPISODE_UPDATE);
    so_live_count(&live, SO_EPISODE_CLEARED_NOW);
    CHECK_INT((int)atomic_load(&live.episodes_opened), 1);
    CHECK_INT((int)atomic_load(&live.episodes_cleared), 1);
    struct so_live_view v;
    so_live_get(&live, true, &v);
    CHECK(v.frame == NULL);
    so_live_view_finish(&v);

    struct so_http_camera hc = {&cam, NULL, &live};
    size_t len = 0;
    char *m = so_http_metrics(&hc, 1, NULL, &len);
    CHECK_INT((int)len, (int)strlen(m));
    HAS(m, "# TYPE streetorder_frames_decoded_total counter\n");
    HAS(m, "streetorder_episodes_opened_total{camera=\"cam\\\"1\"} 1\n");
    HAS(m, "streetorder_camera_health{camera=\"cam\\\"1\",health=\"live\"} 0\n");
    HAS(m, "streetorder_analysis_seconds_bucket{camera=\"cam\\\"1\",le=\"+Inf\"} 0\n");
    HAS(m, "streetorder_delivery_outbox_depth 0\n");
    CHECK(!strstr(m, "secret"));
    free(m);

    int port = free_port();
    char listen_at[64];
    snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
    struct so_http_opts ho = {.listen = listen_at, .cameras = &hc, .n_cameras = 1};
    struct so_http *h = so_http_create(&ho);
    CHECK(h != NULL);
    struct so_http *h2 = so_http_create(&ho);       /* port in use: a clear failure */
    CHECK(h2 == NULL);
    struct so_http_opts bad = {.listen = "no-port-here"};
    CHECK(so_http_create(&bad) == NULL);

    static char buf[1 << 20];
    size_t body = 0;
    CHECK_INT(fetch(port, "GET", "/healthz", buf, sizeof(buf), NULL), 200);
    CHECK(strcmp(buf, "ok\n") == 0);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/snapshot.jpg", buf, sizeof(buf), NULL), 503);
    CHECK_INT(fetch(port, "GET", "/cameras/other/snapshot.jpg", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/cameras//snapshot.jpg", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "DELETE", "/healthz", buf, sizeof(buf), NULL), 405);
    CHECK_INT(fetch(port, "GET", "/metrics", buf, sizeof(buf), NULL), 200);
    HAS(buf, "# HELP streetorder_reconnects_total ");

    /* publish a frame: a white 64x48 picture */
    struct so_frame *f = so_frame_alloc(64, 48);
    CHECK(f != NULL);
    for (int y = 0; y < 48; y++) {
        memset(f->bgr + (size_t)y * f->bgr_stride, 255, 64 * 3);
        memset(f->gray + (size_t)y * f->gray_stride, 255, 64);
    }
    so_live_publish(&live, f, 0.003, 2, NULL, 0, NULL, 10);
    so_live_publish(&live, f, 0.2, 1, NULL, 0, NULL, 20);
    so_frame_unref(f);      /* the live view keeps its own reference */
    CHECK_INT(atomic_load(&live.episodes_open), 1);
    CHECK_INT((int)atomic_load(&live.latency_count), 2);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/snapshot.jpg", buf, sizeof(buf), &body), 200);
    CHECK(body > 100 && (uint8_t)buf[0] == 0xff && (uint8_t)buf[1] == 0xd8);
    CHECK_INT(fetch(port, "HEAD", "/cameras/cam%221/snapshot.jpg", buf, sizeof(buf), &body), 200);
    CHECK_INT((int)body, 0);
    CHECK_INT(fetch(port, "GET", "/metrics", buf, sizeof(buf), NULL), 200);
    HAS(buf, "streetorder_analysis_seconds_bucket{camera=\"cam\\\"1\",le=\"0.005\"} 1\n");
    HAS(buf, "streetorder_analysis_seconds_count{camera=\"cam\\\"1\"} 2\n");
    HAS(buf, "streetorder_analysis_last_seconds{camera=\"cam\\\"1\"} 0.2\n");
    HAS(buf, "streetorder_episodes_open{camera=\"cam\\\"1\"} 1\n");
    CHECK_INT(fetch(port, "GET", "/", buf, sizeof(buf), NULL), 200);
    CHECK(!strstr(buf, "secret"));

    so_http_set_stopping(h);
    CHECK_INT(fetch(port, "GET", "/healthz", buf, sizeof(buf), NULL), 503);
    so_http_destroy(h);
    CHECK_INT(fetch(port, "GET", "/healthz", buf, sizeof(buf), NULL), -1);
    so_http_destroy(NULL);
    so_http_set_stopping(NULL);
    so_live_finish(&live);
    return so_test_done();
}
