/* Unit tests of the HTTP module: the live view (counters, latest frame, fps), the /metrics
 * text, and the server's answers over a real loopback socket, including /healthz going 503
 * after so_http_set_stopping() (hard to catch in the end-to-end test: shutdown is quick). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "http.h"
#include "testlib.h"

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
    char req[8400];
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

/* `s` percent-encoded into out (a query value). */
static void url_encode(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 4 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            out[n++] = (char)c;
        } else {
            n += (size_t)snprintf(out + n, size - n, "%%%02X", c);
        }
    }
    out[n] = 0;
}

/* The zone editor's checks over HTTP: the key table, the draft run through the config loader
 * (check's messages), the preview of a draft polygon. */
static const struct {
    const char *zones;      /* JSON; NULL: no ?zones= */
    const char *want;       /* in the answer */
} check_cases[] = {
    {"[{\"id\": \"a\", \"kind\": \"illegal_parking\", \"polygon\": [[0,0],[1,0],[1,1]], "
     "\"dwell_s\": 10, \"schedule\": [\"mon-fri 07:00-20:00\"], \"classes\": [\"car\"]}]",
     "{\"ok\": true, \"errors\": []}"},
    {"[{\"id\": \"a\", \"kind\": \"illegal_parking\", \"polygon\": [[0,0],[1,0],[1,1]], "
     "\"dwell_s\": 0}]",
     "{\"key\": \"zones[0].dwell_s\", \"message\": \"expected a number from 1 to 86400, "
     "got \\\"0\\\"\"}"},
    {"[{\"id\": \"a\", \"kind\": \"illegal_parking\", \"polygon\": [[0,0],[1,0],[1,1]], "
     "\"dwell_s\": 5, \"min_box\": 50, \"max_box\": 20}]",
     "\"key\": \"zones[0].max_box\", \"message\": \"expected max_box >= min_box (50), got 20\""},
    {"[{\"id\": \"a\", \"kind\": \"parking\", \"polygon\": [[0,0],[1,0]], \"dwell_s\": 5}]",
     "\"key\": \"zones[0].kind\""},
    {"{}", "expected ?zones= a JSON list of zones"},
    {NULL, "expected ?zones= a JSON list of zones"},
};

static void check_editor_checks(int port)
{
    static char buf[1 << 16], path[8192], enc[6000];
    CHECK_INT(fetch(port, "GET", "/fields.json", buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "{\"key\": \"dwell_s\", \"type\": \"number\", \"required\": true, "
                   "\"range\": {\"text\": \"a number from 1 to 86400\"");
    CHECK_CONTAINS(buf, "{\"key\": \"grid\", \"type\": \"digits\", \"required\": false, "
                   "\"digits\": 15, \"what\": \"a grid cell code of exactly 15 digits\"}");
    CHECK_CONTAINS(buf, "\"key\": \"require_class\", \"type\": \"bool\"");
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        size_t len = 0;
        char *text = so_http_check_zones("cam-1", check_cases[i].zones, &len);
        so_test_check(strstr(text, check_cases[i].want) != NULL && len == strlen(text), __FILE__,
                      __LINE__, "check case %zu: %s", i, text);
        free(text);
    }
    /* over HTTP: the query decoded, the camera's id in the config the loader reads */
    url_encode(check_cases[1].zones, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/cameras/cam%%221/check?zones=%s", enc);
    CHECK_INT(fetch(port, "GET", path, buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, check_cases[1].want);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/preview?polygon=0,0,1,0,0,1", buf, sizeof(buf),
                    NULL), 503);    /* no frame yet */
}

/* A port nothing listens on now (the server under test binds it next). */
static int free_port(void)
{
    int port = 0, fd = so_test_listen_local(&port);
    close(fd);
    return port;
}

/* zones.json: a schedule's windows, rebuilt from its minute bitmap, must be windows the loader
 * reads and set exactly the same minutes. NULL ends a case's window list. */
static const char *const schedule_cases[][5] = {
    {"mon-fri 07:00-20:00", "sat-sun 09:00-18:00", NULL},
    {"sun 22:00-06:00", NULL},                             /* crosses midnight and the week */
    {"daily 22:00-06:00", NULL},
    {"wed 00:00-00:00", NULL},                              /* a whole day */
    {"daily 00:00-24:00", NULL},                            /* all week */
    {"sat,sun 00:00-24:00", "fri 18:00-24:00", NULL},       /* a run longer than a day */
    {"fri-mon 23:00-01:00", "wed 10:00-12:00", "wed 11:00-13:00", NULL},   /* overlapping */
    {"mon 00:00-00:01", "tue,thu 12:30-12:31", NULL},
};

static void check_zones_json(void)
{
    struct so_pointf pts[] = {{0.1, 0.45}, {0.9, 0.5}, {0.5, 0.9}};
    for (size_t c = 0; c < sizeof(schedule_cases) / sizeof(schedule_cases[0]); c++) {
        struct so_zone_cfg z = {.id = "z", .kind = SO_ZONE_STALL_ENCROACHMENT,
                                .polygon = {pts, 3}, .dwell_s = 90.5, .min_occupancy = 0.02,
                                .report_interval_s = 60, .clear_s = 10};
        char err[256];
        so_schedule_init_empty(&z.schedule);
        for (const char *const *w = schedule_cases[c]; *w; w++) {
            CHECK(so_schedule_add(&z.schedule, *w, err, sizeof(err)) == 0);
        }
        struct so_camera_cfg cam = {.id = "c", .url = "rtsp://u:pw@h/", .zones = &z,
                                    .n_zones = 1};
        size_t len = 0;
        char *text = so_http_zones_json(&cam, &len);
        CHECK_INT((int)len, (int)strlen(text));
        CHECK(!strstr(text, "rtsp") && !strstr(text, "min_occupancy") &&
              !strstr(text, "clear_s") && !strstr(text, "report_interval_s"));
        json_error_t jerr;
        json_t *root = json_loads(text, 0, &jerr);
        CHECK(root != NULL);
        json_t *zj = json_array_get(json_object_get(root, "zones"), 0);
        CHECK_STR(json_string_value(json_object_get(zj, "kind")), "stall_encroachment");
        CHECK_DBL(json_number_value(json_object_get(zj, "dwell_s")), 90.5, 1e-12);
        CHECK_DBL(json_number_value(json_array_get(json_array_get(
                      json_object_get(zj, "polygon"), 0), 1)), 0.45, 1e-15);
        json_t *sched = json_object_get(zj, "schedule");
        CHECK(json_is_array(sched) && json_array_size(sched) > 0);
        struct so_schedule back;
        so_schedule_init_empty(&back);
        size_t i;
        json_t *w;
        json_array_foreach(sched, i, w) {
            const char *t = json_string_value(w);
            if (so_schedule_add(&back, t ? t : "", err, sizeof(err)) < 0) {
                so_test_check(false, __FILE__, __LINE__, "window \"%s\" parses: %s", t, err);
            }
        }
        so_test_check(memcmp(back.bits, z.schedule.bits, sizeof(back.bits)) == 0, __FILE__,
                      __LINE__, "case %zu: windows set the same minutes (%s)", c,
                      json_string_value(json_array_get(sched, 0)));
        json_decref(root);
        free(text);
    }

    /* every optional key that differs from its default comes back; an absent schedule stays
     * absent */
    char *classes[] = {"car", "truck"};
    struct so_zone_cfg z = {.id = "bay \"2\"", .kind = SO_ZONE_NONMOTOR_PARKING,
                            .polygon = {pts, 3}, .dwell_s = 30, .min_occupancy = 0.25,
                            .report_interval_s = 0, .clear_s = 4, .grid = "620102001001001",
                            .address = "永定路", .category = "0504", .classes = classes,
                            .n_classes = 2, .min_score = 0.4, .min_box = 8, .max_box = 300};
    so_schedule_init_always(&z.schedule);
    struct so_camera_cfg cam = {.id = "c", .url = "x", .zones = &z, .n_zones = 1};
    size_t len = 0;
    char *text = so_http_zones_json(&cam, &len);
    CHECK_CONTAINS(text, "\"id\": \"bay \\\"2\\\"\"");
    CHECK_CONTAINS(text, "\"kinds\": [\"illegal_parking\", \"nonmotor_parking\", \"sidewalk_occupied\", "
              "\"stall_encroachment\"]");
    CHECK_CONTAINS(text, "\"min_occupancy\": 0.25");
    CHECK_CONTAINS(text, "\"report_interval_s\": 0");
    CHECK_CONTAINS(text, "\"clear_s\": 4");
    CHECK_CONTAINS(text, "\"grid\": \"620102001001001\"");
    CHECK_CONTAINS(text, "\"address\": \"永定路\"");
    CHECK_CONTAINS(text, "\"category\": \"0504\"");
    CHECK_CONTAINS(text, "\"classes\": [\"car\", \"truck\"]");
    CHECK_CONTAINS(text, "\"min_score\": 0.4");
    CHECK_CONTAINS(text, "\"min_box\": 8");
    CHECK_CONTAINS(text, "\"max_box\": 300");
    CHECK(!strstr(text, "schedule"));
    free(text);
}

/* Which role each kind of URL needs when http.auth is set. */
static void check_url_roles(void)
{
    static const struct {
        const char *url;
        enum so_auth_role need;
    } cases[] = {
        {"/healthz", SO_AUTH_NONE},
        {"/", SO_AUTH_VIEWER},
        {"/metrics", SO_AUTH_VIEWER},
        {"/cameras.json", SO_AUTH_VIEWER},
        {"/i18n.json", SO_AUTH_VIEWER},
        {"/evidence/a.jpg", SO_AUTH_VIEWER},
        {"/cameras/c1/", SO_AUTH_VIEWER},
        {"/cameras/c1/snapshot.jpg", SO_AUTH_VIEWER},
        {"/cameras/c1/frame.jpg", SO_AUTH_VIEWER},
        {"/cameras/c1/rest.jpg", SO_AUTH_VIEWER},
        {"/cameras/c1/zones.json", SO_AUTH_VIEWER},
        {"/cameras/c1/status.json", SO_AUTH_VIEWER},
        {"/no/such/page", SO_AUTH_VIEWER},
        {"/healthz/", SO_AUTH_VIEWER},
        {"/cameras/c1/editor", SO_AUTH_OPERATOR},
        {"/cameras/c1/check", SO_AUTH_OPERATOR},
        {"/cameras/c1/preview", SO_AUTH_OPERATOR},
        {"/cameras/a/b/preview", SO_AUTH_OPERATOR},
        {"/fields.json", SO_AUTH_OPERATOR},
        {"/cameras//check", SO_AUTH_VIEWER},     /* no camera id: 404 for a viewer */
        {"/check", SO_AUTH_VIEWER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum so_auth_role got = so_http_url_role(cases[i].url);
        so_test_check(got == cases[i].need, __FILE__, __LINE__, "%s needs %s (got %s)",
                      cases[i].url, so_auth_role_name(cases[i].need), so_auth_role_name(got));
    }
}

int main(void)
{
    check_zones_json();
    check_url_roles();

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
    so_live_count(&live, SO_EPISODE_OPENED, false);
    so_live_count(&live, SO_EPISODE_UPDATE, false);
    so_live_count(&live, SO_EPISODE_CLEARED_NOW, false);
    so_live_count(&live, SO_EPISODE_WARNING, true);
    so_live_count(&live, SO_EPISODE_WARNING_CLEARED, true);
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
    CHECK_CONTAINS(m, "# TYPE streetorder_frames_decoded_total counter\n");
    CHECK_CONTAINS(m, "streetorder_episodes_opened_total{camera=\"cam\\\"1\"} 1\n");
    CHECK_CONTAINS(m, "# TYPE streetorder_warnings_total counter\n");
    CHECK_CONTAINS(m, "streetorder_warnings_total{camera=\"cam\\\"1\"} 1\n");
    CHECK_CONTAINS(m, "streetorder_warnings_opened_total{camera=\"cam\\\"1\"} 0\n");
    CHECK_CONTAINS(m, "streetorder_warnings_cleared_total{camera=\"cam\\\"1\"} 1\n");
    CHECK_CONTAINS(m, "streetorder_camera_health{camera=\"cam\\\"1\",health=\"live\"} 0\n");
    CHECK_CONTAINS(m, "streetorder_analysis_seconds_bucket{camera=\"cam\\\"1\",le=\"+Inf\"} 0\n");
    CHECK_CONTAINS(m, "streetorder_delivery_outbox_depth 0\n");
    CHECK(!strstr(m, "secret"));
    free(m);

    /* The health the camera published wins over the source's own (the view check's moved). */
    atomic_int published;
    atomic_init(&published, SO_HEALTH_MOVED);
    struct so_http_camera moved = {&cam, NULL, &live, &published};
    m = so_http_metrics(&moved, 1, NULL, &len);
    CHECK_CONTAINS(m, "streetorder_camera_health{camera=\"cam\\\"1\",health=\"moved\"} 1\n");
    CHECK_CONTAINS(m, "streetorder_camera_health{camera=\"cam\\\"1\",health=\"live\"} 0\n");
    free(m);

    int port = free_port();
    char listen_at[64];
    snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", port);
    char dir[4096], evdir[4200], path[4300];
    so_test_temp_dir(dir);
    snprintf(evdir, sizeof(evdir), "%s/evidence", dir);
    snprintf(path, sizeof(path), "%s/secret.txt", dir);
    so_test_write_file(path, "secret");
    CHECK(mkdir(evdir, 0700) == 0);
    snprintf(path, sizeof(path), "%s/ab-rest.jpg", evdir);
    so_test_write_file(path, "\xff\xd8jpg");
    struct so_http_opts ho = {.listen = listen_at, .cameras = &hc, .n_cameras = 1,
                              .evidence_dir = evdir};
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
    /* the zone editor and what it reads */
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/frame.jpg", buf, sizeof(buf), NULL), 503);
    CHECK_INT(fetch(port, "GET", "/cameras/other/frame.jpg", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/nothing", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/cameras/other/zones.json", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/zones.json", buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "{\"camera\": \"cam\\\"1\", \"kinds\": [");
    CHECK_CONTAINS(buf, "\"id\": \"bay \\\"1\\\"\", \"kind\": \"illegal_parking\", \"polygon\": "
             "[[0.1, 0.5], [0.9, 0.5], [0.9, 0.9], [0.1, 0.9]]");
    CHECK(!strstr(buf, "secret") && !strstr(buf, "rtsp"));
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/editor", buf, sizeof(buf), &body), 200);
    CHECK_INT((int)body, (int)so_http_editor_html_len);
    CHECK_CONTAINS(buf, "<textarea id=\"yaml\"");
    CHECK_CONTAINS(buf, "fetch(\"zones.json\"");
    CHECK(!strstr(buf, "src=\"http") && !strstr(buf, "href=\"http") && !strstr(buf, "url(http"));
    CHECK_INT(fetch(port, "GET", "/metrics", buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "# HELP streetorder_reconnects_total ");
    check_editor_checks(port);

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
    CHECK_CONTAINS(buf, "streetorder_analysis_seconds_bucket{camera=\"cam\\\"1\",le=\"0.005\"} 1\n");
    CHECK_CONTAINS(buf, "streetorder_analysis_seconds_count{camera=\"cam\\\"1\"} 2\n");
    CHECK_CONTAINS(buf, "streetorder_analysis_last_seconds{camera=\"cam\\\"1\"} 0.2\n");
    CHECK_CONTAINS(buf, "streetorder_episodes_open{camera=\"cam\\\"1\"} 1\n");
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/frame.jpg", buf, sizeof(buf), &body), 200);
    CHECK(body > 100 && (uint8_t)buf[0] == 0xff && (uint8_t)buf[1] == 0xd8);
    /* the console: the grid, its document, the camera page, its status, the rest mask */
    CHECK_INT(fetch(port, "GET", "/", buf, sizeof(buf), &body), 200);
    CHECK_INT((int)body, (int)so_http_grid_html_len);
    CHECK_CONTAINS(buf, "fetch(\"/cameras.json\"");
    CHECK_INT(fetch(port, "GET", "/cameras.json", buf, sizeof(buf), NULL), 200);
    CHECK(!strstr(buf, "secret") && !strstr(buf, "rtsp"));
    CHECK_CONTAINS(buf, "\"id\": \"cam\\\"1\", \"health\": \"unknown\"");
    CHECK_CONTAINS(buf, "\"fps_analysed\": ");
    CHECK_CONTAINS(buf, "\"delivery\": {\"enabled\": false, \"pending\": 0");
    CHECK_CONTAINS(buf, "\"health_since\": null");
    /* health with since when: set once, repeated (since stays), changed (since moves) */
    atomic_int health;
    atomic_init(&health, SO_HEALTH_BLIND);
    hc.health = &health;
    so_live_set_health(&live, SO_HEALTH_BLIND, "open failed: Connection refused");
    struct so_live_console con;
    so_live_get_console(&live, &con);
    double since = con.health_since;
    CHECK(con.health == SO_HEALTH_BLIND && since > 0);
    CHECK_STR(con.health_detail, "open failed: Connection refused");
    so_live_console_finish(&con);
    so_test_sleep(0.01);
    so_live_set_health(&live, SO_HEALTH_BLIND, "retrying");
    so_live_get_console(&live, &con);
    CHECK(con.health_since == since);
    so_live_console_finish(&con);
    size_t jlen = 0;
    char *grid = so_http_cameras_json(&hc, 1, NULL, &jlen);
    CHECK_CONTAINS(grid, "\"health\": \"blind\", \"health_since\": \"");
    CHECK_CONTAINS(grid, "\"health_detail\": \"retrying\"");
    CHECK_CONTAINS(grid, "\"has_frame\": true");
    free(grid);
    so_live_set_health(&live, SO_HEALTH_LIVE, "frames flowing");
    so_live_get_console(&live, &con);
    CHECK(con.health_since > since);
    so_live_console_finish(&con);
    hc.health = NULL;
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/", buf, sizeof(buf), &body), 200);
    CHECK_INT((int)body, (int)so_http_camera_html_len);
    CHECK_INT(fetch(port, "GET", "/cameras/other/", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/status.json", buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "\"camera\": \"cam\\\"1\"");
    CHECK_CONTAINS(buf, "\"frame\": {\"width\": 64, \"height\": 48}");
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/rest.jpg", buf, sizeof(buf), NULL), 503);
    /* a draft zone's preview: the left half of a white frame with no rest mask yet */
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/preview?polygon=0,0,0.5,0,0.5,1,0,1", buf,
                    sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "\"at_rest_px\": 0, \"occupancy\": null, \"tracks\": []");
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/preview?polygon=0,0,1", buf, sizeof(buf),
                    NULL), 400);
    CHECK_INT(fetch(port, "GET", "/cameras/cam%221/preview?polygon=0,0,1,0,x,1", buf,
                    sizeof(buf), NULL), 400);
    CHECK_INT(fetch(port, "GET", "/i18n.json", buf, sizeof(buf), NULL), 200);
    CHECK_CONTAINS(buf, "\"lang\": \"en\"");
    /* evidence files: plain names in the evidence folder, nothing else */
    CHECK_INT(fetch(port, "GET", "/evidence/ab-rest.jpg", buf, sizeof(buf), &body), 200);
    CHECK_INT((int)body, 5);
    CHECK_INT(fetch(port, "GET", "/evidence/missing.jpg", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/evidence/..%2Fsecret.txt", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/evidence/../secret.txt", buf, sizeof(buf), NULL), 404);
    CHECK_INT(fetch(port, "GET", "/evidence/.hidden", buf, sizeof(buf), NULL), 404);

    so_http_set_stopping(h);
    CHECK_INT(fetch(port, "GET", "/healthz", buf, sizeof(buf), NULL), 503);
    so_http_destroy(h);
    CHECK_INT(fetch(port, "GET", "/healthz", buf, sizeof(buf), NULL), -1);
    so_http_destroy(NULL);
    so_http_set_stopping(NULL);
    so_live_finish(&live);
    so_test_rm_rf(dir);
    return so_test_done();
}
