/*
 * Unit tests for the video source. Inputs are generated at test time with the ffmpeg CLI into
 * a temporary folder (nothing committed); network behaviour is tested against a local TCP
 * listener that accepts and then says nothing, and against a closed port.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

#include "avinput.h"
#include "source.h"
#include "testlib.h"
#include "timeutil.h"

static char dir[64];

static char *path_in(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int r = system(cmd);
    if (r != 0) {
        printf("# command failed (%d): %s\n", r, cmd);
    }
    return r;
}

/* Copy the first `share` of a file's bytes. */
static int truncate_copy(const char *from, const char *to, double share)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    int r = -1;
    if (in && out) {
        fseek(in, 0, SEEK_END);
        long size = ftell(in);
        fseek(in, 0, SEEK_SET);
        long keep = (long)(size * share);
        char buf[4096];
        while (keep > 0) {
            size_t n = fread(buf, 1, keep < (long)sizeof(buf) ? (size_t)keep : sizeof(buf), in);
            if (n == 0) {
                break;
            }
            fwrite(buf, 1, n, out);
            keep -= (long)n;
        }
        r = 0;
    }
    if (in) {
        fclose(in);
    }
    if (out) {
        fclose(out);
    }
    return r;
}

/* Deterministic "random" bytes (xorshift), so the case behaves the same on every run. */
static int random_file(const char *to, size_t size)
{
    FILE *out = fopen(to, "wb");
    if (!out) {
        return -1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), out);
    }
    fclose(out);
    return 0;
}

static int make_inputs(void)
{
    const char *src = "ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=25";
    const char *x264 = "-c:v libx264 -g 25 -sc_threshold 0 -pix_fmt yuv420p";
    char a[128], b[128];
    int r = 0;
    r |= run("%s -t 4 %s -movflags +faststart %s", src, x264, path_in("x.mp4", a, sizeof(a)));
    r |= run("%s -t 2 %s %s", src, x264, path_in("short.mp4", a, sizeof(a)));
    r |= run("%s -t 4 -c:v mpeg4 -q:v 5 %s", src, path_in("x.avi", a, sizeof(a)));
    r |= run("mkdir -p %s/seq && %s -t 2 -f image2 %s/seq/%%05d.png", dir, src, dir);
    /* A stream whose resolution changes half way: two MPEG-TS segments back to back. */
    r |= run("%s -t 1 %s %s", src, x264, path_in("a.ts", a, sizeof(a)));
    r |= run("ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=25 -t 1 %s "
             "-output_ts_offset 1 %s",
             x264, path_in("b.ts", a, sizeof(a)));
    r |= run("%s -t 1 %s %s", src, x264, path_in("net.ts", a, sizeof(a)));
    r |= run("cat %s/a.ts %s/b.ts > %s", dir, dir, path_in("switch.ts", a, sizeof(a)));
    /* One flat colour (R 240, G 220, B 40), in limited range, full range and as PNG. */
    const char *flat = "ffmpeg -v error -y -f lavfi -i color=c=0xF0DC28:size=320x240:rate=25 -t 1";
    r |= run("%s %s %s", flat, x264, path_in("flat.mp4", a, sizeof(a)));
    r |= run("%s -c:v libx264 -pix_fmt yuvj420p -color_range pc %s", flat,
             path_in("flat_full.mp4", a, sizeof(a)));
    r |= run("mkdir -p %s/flatseq && %s -f image2 %s/flatseq/%%05d.png", dir, flat, dir);
    r |= truncate_copy(path_in("x.mp4", a, sizeof(a)), path_in("trunc.mp4", b, sizeof(b)), 0.4);
    r |= random_file(path_in("random.mp4", a, sizeof(a)), 200000);
    return r;
}

/* ---- file cases ---------------------------------------------------------------------- */

enum expect_end { END_EOF, END_ERROR };

struct file_case {
    const char *name;
    const char *file;       /* in the temp folder */
    double fps;
    int max_width;
    bool keyframes_only;
    enum expect_end end;
    int min_frames, max_frames;
    int width, height;      /* of the analysis frames; 0 = not checked */
    double step;            /* frame i must be at i*step media seconds; 0 = not checked */
    double tol;             /* ... within this (a due frame is the first at or after i*step) */
};

static const struct file_case file_cases[] = {
    {"h264 mp4 scaled", "x.mp4", 5, 160, false, END_EOF, 20, 20, 160, 120, 0.2, 1e-3},
    {"h264 mp4 not upscaled", "x.mp4", 5, 640, false, END_EOF, 20, 20, 320, 240, 0.2, 1e-3},
    {"h264 mp4 no width limit", "x.mp4", 2, 0, false, END_EOF, 8, 8, 320, 240, 0.5, 0.041},
    {"mpeg4 avi", "x.avi", 5, 160, false, END_EOF, 20, 20, 160, 120, 0.2, 1e-3},
    {"png sequence", "seq/%05d.png", 5, 320, false, END_EOF, 10, 10, 320, 240, 0.2, 1e-3},
    {"keyframes only", "x.mp4", 5, 160, true, END_EOF, 4, 4, 160, 120, 1.0, 1e-3},
    {"resolution change", "switch.ts", 5, 640, false, END_EOF, 10, 10, 0, 0, 0.2, 1e-3},
    {"truncated mp4", "trunc.mp4", 5, 160, false, END_EOF, 1, 19, 160, 120, 0.2, 1e-3},
    {"random bytes", "random.mp4", 5, 160, false, END_ERROR, 0, 0, 0, 0, 0, 1e-3},
    {"missing file", "nope/missing.mp4", 5, 160, false, END_ERROR, 0, 0, 0, 0, 0, 1e-3},
};

/* Does the plane vary (not one flat colour)? */
static bool plane_varies(const uint8_t *p, int stride, int row_bytes, int rows)
{
    uint8_t lo = 255, hi = 0;
    for (int y = 0; y < rows; y++) {
        for (int x = 0; x < row_bytes; x++) {
            uint8_t v = p[(size_t)y * stride + x];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    return hi - lo > 32;
}

static void test_file_case(const struct file_case *c)
{
    printf("# case: %s\n", c->name);
    char url[256];
    path_in(c->file, url, sizeof(url));
    struct so_source_opts o = {
        .url = url, .camera_id = "test", .fps = c->fps, .max_width = c->max_width,
        .fast = true, .keyframes_only = c->keyframes_only, .run_start_wall = 1700000000.0,
    };
    struct so_source *s = so_source_create(&o);
    CHECK(s != NULL);
    if (!s) {
        return;
    }
    int n = 0, r;
    double last = -1;
    bool monotonic = true, timing = true, sized = true, planes = true, wall = true;
    bool saw_big = false, saw_small = false;
    struct so_frame *f;
    double t0 = so_time_mono();
    while ((r = so_source_next(s, &f)) == 0) {
        if (f->media_s < last) {
            monotonic = false;
        }
        last = f->media_s;
        double want = n * c->step;
        if (c->step > 0 && (f->media_s - want > c->tol || want - f->media_s > 1e-3)) {
            printf("# frame %d at %.6f s, expected %.6f\n", n, f->media_s, n * c->step);
            timing = false;
        }
        if (c->width && (f->width != c->width || f->height != c->height)) {
            printf("# frame %d is %dx%d\n", n, f->width, f->height);
            sized = false;
        }
        if (f->index != n || f->wall_s - (1700000000.0 + f->media_s) > 1e-6 ||
            1700000000.0 + f->media_s - f->wall_s > 1e-6) {
            wall = false;
        }
        if (!plane_varies(f->bgr, f->bgr_stride, f->width * 3, f->height) ||
            !plane_varies(f->gray, f->gray_stride, f->width, f->height)) {
            planes = false;
        }
        saw_big |= f->src_width == 320 && f->width == 320 && f->height == 240;
        saw_small |= f->src_width == 160 && f->width == 160 && f->height == 120;
        so_frame_unref(f);
        n++;
        if (so_time_mono() - t0 > 20) {
            break;
        }
    }
    CHECK(f == NULL);
    if (c->end == END_EOF) {
        CHECK_INT(r, AVERROR_EOF);
    } else {
        CHECK(r < 0 && r != AVERROR_EOF && r != AVERROR_EXIT);
    }
    CHECK(n >= c->min_frames && n <= c->max_frames);
    if (c->min_frames == c->max_frames) {
        CHECK_INT(n, c->min_frames);
    }
    CHECK(monotonic);
    CHECK(timing);
    CHECK(sized);
    CHECK(wall);
    CHECK(planes);
    if (strcmp(c->file, "switch.ts") == 0) {
        CHECK(saw_big);
        CHECK(saw_small);
    }
    struct so_source_stats st;
    so_source_get_stats(s, &st);
    CHECK_INT(st.frames_analysed, n);
    CHECK_INT(st.frames_dropped, 0);
    CHECK(st.frames_decoded >= (uint64_t)n);
    /* frames come back to the source's pool: the slot, the one in hand, one per size */
    so_test_check(st.frames_allocated <= 4 && (n == 0 || st.frames_allocated >= 1), __FILE__,
                  __LINE__, "%s: %d frames handed out, %d allocated", c->file, n,
                  (int)st.frames_allocated);
    if (n > 0) {
        CHECK_INT(st.health, SO_HEALTH_LIVE);
    }
    /* Calling again after the end keeps returning the end. */
    CHECK_INT(so_source_next(s, &f), r);
    so_source_destroy(s);
}

/*
 * Colours survive the conversion: the BGR plane shows the encoded colour and the grey plane
 * its full-range luma (0.299 R + 0.587 G + 0.114 B = 205), whatever the source's range or
 * pixel format (4:2:0 limited, 4:2:0 full, RGB PNG), scaled or not. A range mix-up is off by
 * 13 (limited luma read as full) or 15 (full luma stretched again).
 */
static void test_colours(void)
{
    const char *files[] = {"flat.mp4", "flat_full.mp4", "flatseq/%05d.png"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        for (int max_width = 320; max_width >= 160; max_width -= 160) {
            printf("# case: colours of %s at width %d\n", files[i], max_width);
            char url[256];
            struct so_source_opts o = {
                .url = path_in(files[i], url, sizeof(url)), .camera_id = "test", .fps = 5,
                .max_width = max_width, .fast = true, .run_start_wall = 1700000000.0,
            };
            struct so_source *src = so_source_create(&o);
            CHECK(src != NULL);
            struct so_frame *f = NULL;
            if (!src || so_source_next(src, &f) != 0) {
                CHECK(!"a frame");
                so_source_destroy(src);
                continue;
            }
            const uint8_t *px = f->bgr + (size_t)(f->height / 2) * f->bgr_stride +
                                (size_t)(f->width / 2) * 3;
            int grey = f->gray[(size_t)(f->height / 2) * f->gray_stride + f->width / 2];
            printf("# bgr %d %d %d grey %d\n", px[0], px[1], px[2], grey);
            CHECK(abs(px[0] - 40) <= 6 && abs(px[1] - 220) <= 6 && abs(px[2] - 240) <= 6);
            CHECK(abs(grey - 205) <= 4);
            so_frame_unref(f);
            so_source_destroy(src);
        }
    }
}

/* ---- pacing, dropping, stop ---------------------------------------------------------- */

static void test_realtime_pacing(void)
{
    printf("# case: realtime pacing\n");
    char url[256];
    struct so_source_opts o = {
        .url = path_in("short.mp4", url, sizeof(url)), .camera_id = "pace", .fps = 5,
        .max_width = 160,
    };
    double t0 = so_time_mono();
    struct so_source *s = so_source_create(&o);
    CHECK(s != NULL);
    struct so_frame *f;
    int n = 0, r;
    while ((r = so_source_next(s, &f)) == 0) {
        so_frame_unref(f);
        n++;
    }
    double took = so_time_mono() - t0;
    printf("# %d frames in %.2f s\n", n, took);
    CHECK_INT(r, AVERROR_EOF);
    CHECK(took >= 1.7);
    CHECK(took < 6);
    CHECK(n >= 8 && n <= 10);
    so_source_destroy(s);
}

static void test_live_drops(void)
{
    printf("# case: slow consumer drops frames (latest wins)\n");
    char url[256];
    struct so_source_opts o = {
        .url = path_in("short.mp4", url, sizeof(url)), .camera_id = "drop", .fps = 5,
        .max_width = 160,
    };
    struct so_source *s = so_source_create(&o);
    struct so_frame *f;
    int n = 0, r;
    double last = -1;
    bool monotonic = true;
    while ((r = so_source_next(s, &f)) == 0) {
        monotonic &= f->media_s > last;
        last = f->media_s;
        so_frame_unref(f);
        n++;
        so_test_sleep(0.5);
    }
    struct so_source_stats st;
    so_source_get_stats(s, &st);
    printf("# analysed %d, dropped %llu\n", n, (unsigned long long)st.frames_dropped);
    CHECK_INT(r, AVERROR_EOF);
    CHECK(monotonic);
    CHECK(st.frames_dropped > 0);
    CHECK(n + st.frames_dropped == 10);
    so_source_destroy(s);
}

struct stopper {
    struct so_source *src;
    double delay;
    double stopped_at;
};

static void *stop_later(void *arg)
{
    struct stopper *st = arg;
    so_test_sleep(st->delay);
    st->stopped_at = so_time_mono();
    so_source_stop(st->src);
    return NULL;
}

static void test_stop_interrupts_next(void)
{
    printf("# case: stop from another thread interrupts so_source_next\n");
    char url[256];
    /* One frame per 5 s: after the first frame so_source_next blocks until the file ends. */
    struct so_source_opts o = {
        .url = path_in("x.mp4", url, sizeof(url)), .camera_id = "stop", .fps = 0.2,
        .max_width = 160,
    };
    struct so_source *s = so_source_create(&o);
    struct so_frame *f;
    CHECK_INT(so_source_next(s, &f), 0);
    so_frame_unref(f);
    struct stopper st = {s, 0.3, 0};
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &st);
    int r = so_source_next(s, &f);
    double woke = so_time_mono();
    pthread_join(t, NULL);
    CHECK_INT(r, AVERROR_EXIT);
    CHECK(f == NULL);
    CHECK(woke - st.stopped_at < 1.0);
    CHECK_INT(so_source_next(s, &f), AVERROR_EXIT);
    double t0 = so_time_mono();
    so_source_destroy(s);
    CHECK(so_time_mono() - t0 < 1.0);
}

static void test_options_and_names(void)
{
    printf("# case: options and names\n");
    CHECK_STR(so_health_name(SO_HEALTH_LIVE), "live");
    CHECK_STR(so_health_name(SO_HEALTH_BLIND), "blind");
    CHECK_STR(so_health_name(SO_HEALTH_MOVED), "moved");
    CHECK_STR(so_health_name(SO_HEALTH_TAMPERED), "tampered");
    struct so_source_opts bad_fps = {.url = "x.mp4", .fps = 0, .max_width = 640};
    CHECK(so_source_create(&bad_fps) == NULL);
    struct so_source_opts no_url = {.url = NULL, .fps = 5, .max_width = 640};
    CHECK(so_source_create(&no_url) == NULL);
    so_source_destroy(NULL);
    so_source_stop(NULL);
}

/* ---- network ------------------------------------------------------------------------- */

/* A TCP server that accepts every connection and never sends a byte. */
struct silent_server {
    int fd;
    int port;
    atomic_bool stop;
    int clients[64];
    int nclients;
    pthread_t thread;
};

static void *silent_main(void *arg)
{
    struct silent_server *sv = arg;
    while (!atomic_load(&sv->stop)) {
        struct pollfd p = {sv->fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            int c = accept(sv->fd, NULL, NULL);
            if (c >= 0 && sv->nclients < 64) {
                sv->clients[sv->nclients++] = c;
            } else if (c >= 0) {
                close(c);
            }
        }
    }
    return NULL;
}

struct health_log {
    pthread_mutex_t lock;
    int blind, live;
    double first_blind;
    char detail[256];
};

static void on_health(void *opaque, enum so_health h, const char *detail)
{
    struct health_log *hl = opaque;
    pthread_mutex_lock(&hl->lock);
    if (h == SO_HEALTH_BLIND) {
        if (hl->blind++ == 0) {
            hl->first_blind = so_time_mono();
        }
    } else if (h == SO_HEALTH_LIVE) {
        hl->live++;
    }
    snprintf(hl->detail, sizeof(hl->detail), "%s", detail ? detail : "");
    pthread_mutex_unlock(&hl->lock);
}

struct net_case {
    const char *name;
    const char *scheme;
    const char *path;
    bool silent;                /* a server accepts and says nothing; else the port is closed */
    double wait_s;              /* how long to let it run before checking */
    double max_blind_s;         /* BLIND must be reported within this */
    bool expect_reconnects;
};

static const struct net_case net_cases[] = {
    {"rtsp silent server", "rtsp", "stream", true, 2.0, 2.0, false},
    {"http silent server", "http", "live.ts", true, 2.0, 2.0, false},
    {"rtsp closed port", "rtsp", "stream", false, 2.0, 1.0, true},
};

static void test_net_case(const struct net_case *c)
{
    printf("# case: %s\n", c->name);
    struct silent_server sv = {.fd = -1};
    int port = 0;
    int fd = so_test_listen_local(&port);
    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    if (c->silent) {
        sv.fd = fd;
        sv.port = port;
        atomic_init(&sv.stop, false);
        pthread_create(&sv.thread, NULL, silent_main, &sv);
    } else {
        close(fd); /* nothing listens there now: connections are refused */
    }
    char url[128];
    snprintf(url, sizeof(url), "%s://user:secret@127.0.0.1:%d/%s", c->scheme, port, c->path);
    struct health_log hl = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct so_source_opts o = {
        .url = url, .camera_id = "net", .fps = 5, .max_width = 160, .io_timeout_s = 1,
        .on_health = on_health, .opaque = &hl,
    };
    double t0 = so_time_mono();
    struct so_source *s = so_source_create(&o);
    CHECK(s != NULL);
    so_test_sleep(c->wait_s);
    struct so_source_stats st;
    so_source_get_stats(s, &st);
    double t1 = so_time_mono();
    so_source_destroy(s);
    double destroy_s = so_time_mono() - t1;

    pthread_mutex_lock(&hl.lock);
    printf("# blind after %.2f s (%s), reconnects %llu, destroy took %.2f s\n",
           hl.blind ? hl.first_blind - t0 : -1.0, hl.detail, (unsigned long long)st.reconnects,
           destroy_s);
    CHECK_INT(hl.blind, 1);
    CHECK_INT(hl.live, 0);
    CHECK(hl.blind && hl.first_blind - t0 <= c->max_blind_s);
    CHECK(strstr(hl.detail, "secret") == NULL);
    pthread_mutex_unlock(&hl.lock);
    CHECK_INT(st.health, SO_HEALTH_BLIND);
    if (c->expect_reconnects) {
        CHECK(st.reconnects > 0);
    }
    CHECK(destroy_s < 2.0);

    if (c->silent) {
        atomic_store(&sv.stop, true);
        pthread_join(sv.thread, NULL);
        for (int i = 0; i < sv.nclients; i++) {
            close(sv.clients[i]);
        }
        close(sv.fd);
    }
}

/* An HTTP server that sends a short MPEG-TS clip and hangs up: every connection is a stream
 * that plays for a moment and then ends, so the source has to reconnect again and again. */
struct clip_server {
    int fd;
    atomic_bool stop;
    const char *file;
    pthread_t thread;
};

static void serve_clip(int c, const char *file)
{
    char req[2048];
    size_t got = 0;
    while (got < sizeof(req) - 1) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) {
            return;
        }
        ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
        if (n <= 0) {
            return;
        }
        got += (size_t)n;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n")) {
            break;
        }
    }
    const char *head = "HTTP/1.0 200 OK\r\nContent-Type: video/mp2t\r\n\r\n";
    if (write(c, head, strlen(head)) < 0) {
        return;
    }
    FILE *in = fopen(file, "rb");
    char buf[8192];
    size_t n;
    while (in && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (write(c, buf, n) < 0) {
            break;
        }
    }
    if (in) {
        fclose(in);
    }
}

static void *clip_main(void *arg)
{
    struct clip_server *sv = arg;
    while (!atomic_load(&sv->stop)) {
        struct pollfd p = {sv->fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0) {
            int c = accept(sv->fd, NULL, NULL);
            if (c >= 0) {
                serve_clip(c, sv->file);
                close(c);
            }
        }
    }
    return NULL;
}

struct collector {
    struct so_source *src;
    int n;
    double media[256];
    double wall[256];
    int last_ret;
};

static void *collect_main(void *arg)
{
    struct collector *co = arg;
    struct so_frame *f;
    while ((co->last_ret = so_source_next(co->src, &f)) == 0) {
        if (co->n < 256) {
            co->media[co->n] = f->media_s;
            co->wall[co->n] = f->wall_s;
            co->n++;
        }
        so_frame_unref(f);
    }
    return NULL;
}

static void test_net_reconnect(void)
{
    printf("# case: http stream that keeps ending: blind, reconnect, live again\n");
    char file[256], url[128];
    struct clip_server sv = {.file = path_in("net.ts", file, sizeof(file))};
    int port = 0;
    sv.fd = so_test_listen_local(&port);
    CHECK(sv.fd >= 0);
    if (sv.fd < 0) {
        return;
    }
    atomic_init(&sv.stop, false);
    pthread_create(&sv.thread, NULL, clip_main, &sv);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/net.ts", port);
    struct health_log hl = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct so_source_opts o = {
        .url = url, .camera_id = "reconnect", .fps = 5, .max_width = 160, .io_timeout_s = 2,
        .on_health = on_health, .opaque = &hl,
    };
    struct collector co = {.src = so_source_create(&o)};
    CHECK(co.src != NULL);
    pthread_t t;
    pthread_create(&t, NULL, collect_main, &co);
    so_test_sleep(2.3);
    struct so_source_stats st;
    so_source_get_stats(co.src, &st);
    so_source_stop(co.src);
    pthread_join(t, NULL);
    so_source_destroy(co.src);

    bool monotonic = true, wall_ok = true;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    for (int i = 0; i < co.n; i++) {
        monotonic &= i == 0 || co.media[i] > co.media[i - 1];
        wall_ok &= co.wall[i] > (double)rt.tv_sec - 10 && co.wall[i] <= (double)rt.tv_sec + 1;
    }
    printf("# %d frames, last media %.2f s, live %d, blind %d, reconnects %llu\n", co.n,
           co.n ? co.media[co.n - 1] : -1.0, hl.live, hl.blind,
           (unsigned long long)st.reconnects);
    CHECK_INT(co.last_ret, AVERROR_EXIT);
    CHECK(co.n >= 4); /* live: a loaded machine may drop some, never all */
    CHECK(monotonic);
    CHECK(wall_ok);
    CHECK(co.n > 0 && co.media[co.n - 1] > 1.0); /* continued after the first stream ended */
    CHECK(hl.live >= 2);
    CHECK(hl.blind >= 1);
    CHECK(st.reconnects >= 3); /* backoff was reset to 0.5 s because frames flowed */

    atomic_store(&sv.stop, true);
    pthread_join(sv.thread, NULL);
    close(sv.fd);
}

static void *unref_later(void *arg)
{
    so_frame_unref(arg);
    return NULL;
}

/*
 * The frame pool: a frame dropped by its last holder is handed out again; another size is a
 * new frame; the owner may let go while frames are still held elsewhere (they free themselves
 * when dropped, on any thread: ASan and the leak checker run this test in CI).
 */
static void test_frame_pool(void)
{
    printf("# case: frame pool\n");
    struct so_frame_pool *p = so_frame_pool_create(2);
    CHECK(p != NULL);
    struct so_frame *a = so_frame_pool_get(p, 64, 48);
    CHECK(a != NULL && a->width == 64 && a->height == 48 && a->pool == p);
    a->media_s = 5;
    uint8_t *bgr = a->bgr;
    so_frame_unref(a);
    struct so_frame *b = so_frame_pool_get(p, 64, 48);
    CHECK(b == a && b->bgr == bgr && b->media_s == 0 && atomic_load(&b->refs) == 1);
    CHECK_INT(so_frame_pool_allocated(p), 1);
    struct so_frame *c = so_frame_pool_get(p, 64, 48), *d = so_frame_pool_get(p, 64, 48);
    CHECK_INT(so_frame_pool_allocated(p), 3);
    so_frame_unref(b);
    so_frame_unref(c);
    so_frame_unref(d);          /* keep 2: the third is freed */
    struct so_frame *e = so_frame_pool_get(p, 32, 24);  /* other size: a new one */
    CHECK(e != NULL && e->width == 32 && e->gray_stride >= 32);
    CHECK_INT(so_frame_pool_allocated(p), 4);
    struct so_frame *held = so_frame_pool_get(p, 64, 48);
    so_frame_ref(held);
    so_frame_unref(e);
    so_frame_pool_release(p);   /* held twice still */
    so_frame_unref(held);
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, unref_later, held), 0);
    pthread_join(th, NULL);     /* the last frame frees the pool */
    so_frame_pool_release(NULL);
    struct so_frame_pool *q = so_frame_pool_create(1);
    so_frame_pool_release(q);   /* nothing out: freed at once */
}

/* Fill f with a smooth colour gradient (even over each 2x2 block where `blocks`), its grey the
 * BT.601 luma as the source's Y would be. */
static void fill_colours(struct so_frame *f, bool blocks)
{
    for (int y = 0; y < f->height; y++) {
        for (int x = 0; x < f->width; x++) {
            int bx = blocks ? x / 2 * 2 : x, by = blocks ? y / 2 * 2 : y;
            uint8_t *p = f->bgr + (size_t)y * f->bgr_stride + 3 * x;
            p[0] = (uint8_t)(40 + 3 * bx);
            p[1] = (uint8_t)(200 - 3 * by);
            p[2] = (uint8_t)(30 + bx + 2 * by);
            f->gray[(size_t)y * f->gray_stride + x] =
                (uint8_t)(0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2] + 0.5);
        }
    }
}

/* The largest and the mean absolute difference of the BGR planes of a and b (same size). */
static void bgr_error(const struct so_frame *a, const struct so_frame *b, int *max, double *mean)
{
    long sum = 0;
    *max = 0;
    for (int y = 0; y < a->height; y++) {
        for (int x = 0; x < 3 * a->width; x++) {
            int d = abs(a->bgr[(size_t)y * a->bgr_stride + x] - b->bgr[(size_t)y * b->bgr_stride + x]);
            sum += d;
            *max = d > *max ? d : *max;
        }
    }
    *mean = (double)sum / (3.0 * a->width * a->height);
}

/*
 * Compact frames (the rules' recent past): the grey comes back exactly, with the frame's times;
 * colour even over 2x2 blocks comes back within the rounding of the transform, a smooth
 * gradient within a few levels; odd sizes keep their last row and column; a kept frame of
 * another size replaces the planes; a cleared one expands to nothing.
 */
static void test_frame_compact(void)
{
    printf("# case: compact frames\n");
    static const struct {
        int w, h;
        bool blocks;
        int max_err;
        double mean_err;
    } cases[] = {
        {64, 48, true, 2, 1.0},
        {33, 17, true, 2, 1.0},   /* odd: the last column and row are blocks of their own */
        {64, 48, false, 4, 2.0},  /* a gradient: chroma averaged over 2x2, as in JPEG */
    };
    struct so_frame_compact c = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct so_frame *f = so_frame_alloc(cases[i].w, cases[i].h);
        fill_colours(f, cases[i].blocks);
        f->media_s = 12.5;
        f->wall_s = 1.7e9;
        f->index = 42;
        f->src_width = 1920;
        f->src_height = 1080;
        CHECK(so_frame_compact_keep(&c, f));
        struct so_frame *e = so_frame_compact_expand(&c);
        CHECK(e != NULL && e->width == f->width && e->height == f->height && !e->pool);
        CHECK(e->media_s == 12.5 && e->wall_s == 1.7e9 && e->index == 42 &&
              e->src_width == 1920 && e->src_height == 1080);
        bool grey_same = true;
        for (int y = 0; y < f->height; y++) {
            grey_same &= memcmp(e->gray + (size_t)y * e->gray_stride,
                                f->gray + (size_t)y * f->gray_stride, (size_t)f->width) == 0;
        }
        CHECK(grey_same);
        int max;
        double mean;
        bgr_error(f, e, &max, &mean);
        printf("# %dx%d %s: colour error max %d, mean %.2f\n", cases[i].w, cases[i].h,
               cases[i].blocks ? "blocks" : "gradient", max, mean);
        CHECK(max <= cases[i].max_err && mean <= cases[i].mean_err);
        so_frame_unref(e);
        so_frame_unref(f);
    }
    so_frame_compact_clear(&c);
    CHECK(c.gray == NULL && so_frame_compact_expand(&c) == NULL);
}

/* avinput.c: every deprecated "J" format maps to its plain twin + full range; others pass. */
static void test_avinput_formats(void)
{
    static const struct {
        enum AVPixelFormat in, out;
        bool full;
    } cases[] = {
        {AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P, true},
        {AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV422P, true},
        {AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV444P, true},
        {AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV440P, true},
        {AV_PIX_FMT_YUVJ411P, AV_PIX_FMT_YUV411P, true},
        {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV420P, false},
        {AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV422P, false},
        {AV_PIX_FMT_NV12, AV_PIX_FMT_NV12, false},
        {AV_PIX_FMT_BGR24, AV_PIX_FMT_BGR24, false},
        {AV_PIX_FMT_GRAY8, AV_PIX_FMT_GRAY8, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool full = false;
        enum AVPixelFormat out = so_avinput_plain_format(cases[i].in, &full);
        so_test_check(out == cases[i].out && full == cases[i].full, __FILE__, __LINE__,
                      "plain format of %s: %s, full %d (want %s, %d)",
                      av_get_pix_fmt_name(cases[i].in), av_get_pix_fmt_name(out), full,
                      av_get_pix_fmt_name(cases[i].out), cases[i].full);
        bool kept = true;   /* a full range already known is never cleared */
        so_avinput_plain_format(cases[i].in, &kept);
        CHECK(kept);
    }
    /* Every YUVJ format FFmpeg knows is in the table (a new one would show here). */
    for (const AVPixFmtDescriptor *d = av_pix_fmt_desc_next(NULL); d;
         d = av_pix_fmt_desc_next(d)) {
        if (strncmp(d->name, "yuvj", 4) == 0) {
            bool full = false;
            enum AVPixelFormat out = so_avinput_plain_format(av_pix_fmt_desc_get_id(d), &full);
            so_test_check(full && strncmp(av_get_pix_fmt_name(out), "yuv", 3) == 0 &&
                              strcmp(av_get_pix_fmt_name(out) + 3, d->name + 4) == 0,
                          __FILE__, __LINE__, "%s -> %s, full %d", d->name,
                          av_get_pix_fmt_name(out), full);
        }
    }
}

/* avinput.c: which URLs are network streams, which names image sequences. */
static void test_avinput_urls(void)
{
    char existing[128], pattern_file[128];
    snprintf(existing, sizeof(existing), "%s/100%%03d.mp4", dir);  /* a file named with %03d */
    snprintf(pattern_file, sizeof(pattern_file), "%s/100%%done.mp4", dir);
    run("touch '%s' '%s'", existing, pattern_file);
    const struct {
        const char *url;
        bool network, sequence;
    } cases[] = {
        {"rtsp://10.0.0.5:554/stream1", true, false},
        {"RTSP://cam/1", true, false},
        {"http://nvr/cam.mjpg", true, false},
        {"udp://239.0.0.1:1234", true, false},
        {"file:///tmp/clip.mp4", false, false},
        {"FILE:///tmp/clip.mp4", false, false},
        {"/tmp/clip.mp4", false, false},
        {"frames/%05d.png", false, true},
        {"img%d.jpg", false, true},
        {"a%zb%03d.png", false, true},      /* the conversion need not be the first '%' */
        {"100%.png", false, false},
        {"50%x.png", false, false},
        {"%", false, false},
        {"", false, false},
        {existing, false, false},           /* exists: a file, whatever its name says */
        {pattern_file, false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool net = so_avinput_is_network(cases[i].url);
        bool seq = so_avinput_is_image_sequence(cases[i].url);
        so_test_check(net == cases[i].network && seq == cases[i].sequence, __FILE__, __LINE__,
                      "\"%s\": network %d sequence %d (want %d %d)", cases[i].url, net, seq,
                      cases[i].network, cases[i].sequence);
    }
    unlink(existing);
    unlink(pattern_file);
}

int main(void)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP ffmpeg CLI not found\n");
        return 77;
    }
    snprintf(dir, sizeof(dir), "/tmp/so_test_source_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (make_inputs() != 0) {
        printf("Bail out! could not generate test inputs in %s\n", dir);
        so_test_rm_rf(dir);
        return 1;
    }
    test_frame_pool();
    test_frame_compact();
    test_avinput_formats();
    test_avinput_urls();
    test_options_and_names();
    for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
        test_file_case(&file_cases[i]);
    }
    test_colours();
    test_realtime_pacing();
    test_live_drops();
    test_stop_interrupts_next();
    for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
        test_net_case(&net_cases[i]);
    }
    test_net_reconnect();
    so_test_rm_rf(dir);
    return so_test_done();
}
