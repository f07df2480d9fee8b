/*
 * bench-delivery: events per second through the outbox journal and the delivery channel into a
 * real streetorder-intake, and the latency from the moment an event is confirmed (handed to
 * the journal) to its acknowledgement, which the intake sends only after its SQLite commit
 * (WAL, synchronous=FULL): so the latency covers both fsyncs and the network round trip.
 * Not a test; run through scripts/bench-delivery, which starts the intake.
 *
 *   bench-delivery --endpoint E --dir STATE [--events N] [--rate R] [--image-kb K] [--no-fsync]
 *
 * Phase 1 (throughput): N events appended back to back; events/s = N / (last ack - first
 * append). Phase 2 (latency): N/4 events paced at R per second (default 20), each timed from
 * before its append to its ack: p50/p99. Every event carries two images of K KB (default 60).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "log.h"
#include "outbox.h"

struct bench {
    double *submit, *acked;     /* by seq */
    size_t cap;
    pthread_mutex_t lock;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_ack(void *opaque, uint64_t seq)
{
    struct bench *b = opaque;
    pthread_mutex_lock(&b->lock);
    if (seq < b->cap) {
        b->acked[seq] = now_s();
    }
    pthread_mutex_unlock(&b->lock);
}

static void sha256_hex(const uint8_t *data, size_t size, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, size, md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int append_event(struct so_outbox *o, uint64_t seq, const struct so_outbox_part *imgs,
                        const char sha[2][65])
{
    char json[2048];
    int n = snprintf(json, sizeof(json),
                     "{\"schema\":\"streetorder.event.v1\",\"event_id\":\"%016" PRIx64
                     "%016llx\",\"seq\":%" PRIu64 ",\"kind\":\"illegal_parking\","
                     "\"state\":\"opened\",\"detector_id\":\"bench\",\"camera_id\":\"cam-%d\","
                     "\"zone_id\":\"bay-a\",\"category\":{\"standard\":\"GB/T 30428.2\","
                     "\"code\":\"0505\",\"name\":\"机动车乱停放\"},\"grid\":\"620102001001001\","
                     "\"media_start_s\":12.5,\"media_confirmed_s\":192.5,\"media_end_s\":null,"
                     "\"dwell_s\":180,\"objects\":[{\"class\":\"object\",\"score\":1,"
                     "\"box\":[10,20,120,80]}],\"evidence\":[{\"role\":\"rest\",\"format\":"
                     "\"jpeg\",\"size\":%zu,\"sha256\":\"%s\"},{\"role\":\"confirm\","
                     "\"format\":\"jpeg\",\"size\":%zu,\"sha256\":\"%s\"}]}",
                     seq, (unsigned long long)time(NULL), seq, (int)(seq % 4), imgs[0].size,
                     sha[0], imgs[1].size, sha[1]);
    return so_outbox_append(o, seq, json, (size_t)n, imgs, 2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"dir", required_argument, NULL, 'd'},
        {"events", required_argument, NULL, 'n'},   {"rate", required_argument, NULL, 'r'},
        {"image-kb", required_argument, NULL, 'k'}, {"no-fsync", no_argument, NULL, 'F'},
        {0},
    };
    const char *endpoint = NULL, *dir = NULL;
    int n_events = 1000, image_kb = 60;
    double rate = 20;
    bool fsync = true;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'd': dir = optarg; break;
        case 'n': n_events = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'k': image_kb = atoi(optarg); break;
        case 'F': fsync = false; break;
        default: return 2;
        }
    }
    if (!endpoint || !dir || n_events < 4 || rate <= 0 || image_kb < 1) {
        fprintf(stderr, "usage: bench-delivery --endpoint E --dir STATE [--events N] "
                "[--rate R] [--image-kb K] [--no-fsync]\n");
        return 2;
    }
    so_log_set_level(SO_LOG_WARN);
    int n_lat = n_events / 4;
    struct bench b = {.cap = (size_t)(n_events + n_lat + 2)};
    b.submit = calloc(b.cap, sizeof(double));
    b.acked = calloc(b.cap, sizeof(double));
    pthread_mutex_init(&b.lock, NULL);

    size_t isz = (size_t)image_kb * 1024;
    uint8_t *img[2] = {malloc(isz), malloc(isz)};
    char sha[2][65];
    srand(1);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < isz; i++) {
            img[k][i] = (uint8_t)rand();
        }
        img[k][0] = 0xff;
        img[k][1] = 0xd8;
        sha256_hex(img[k], isz, sha[k]);
    }
    struct so_outbox_part parts[2] = {{img[0], isz}, {img[1], isz}};

    struct so_outbox_opts oo = {.dir = dir, .quota_bytes = 16ull << 30, .fsync = fsync};
    struct so_outbox *o = so_outbox_open(&oo);
    struct so_channel_opts co = {.endpoint = endpoint, .outbox = o, .on_ack = on_ack,
                                 .opaque = &b};
    struct so_channel *ch = o ? so_channel_create(&co) : NULL;
    if (!ch) {
        return 1;
    }
    uint64_t base = so_outbox_last_seq(o);
    if (base) {
        fprintf(stderr, "bench-delivery: %s is not empty\n", dir);
        return 1;
    }
    /* Wait for the connection: one warm-up event. */
    append_event(o, 1, parts, sha);
    so_channel_notify(ch, 1);
    if (so_channel_drain(ch, 10) != 0) {
        fprintf(stderr, "bench-delivery: no intake at %s\n", endpoint);
        return 1;
    }

    /* Phase 1: throughput. */
    double t0 = now_s();
    for (int i = 0; i < n_events; i++) {
        uint64_t seq = (uint64_t)i + 2;
        b.submit[seq] = now_s();
        if (append_event(o, seq, parts, sha) != 0) {
            fprintf(stderr, "bench-delivery: append failed\n");
            return 1;
        }
        so_channel_notify(ch, seq);
    }
    double t_appended = now_s();
    so_channel_drain(ch, 300);
    double t1 = 0;
    for (int i = 0; i < n_events; i++) {
        t1 = b.acked[i + 2] > t1 ? b.acked[i + 2] : t1;
    }
    double mb = (double)n_events * (2.0 * (double)isz + 600) / (1024.0 * 1024.0);
    printf("throughput: %d events (2 x %d KB images each, fsync %s) in %.2f s: %.0f events/s, "
           "%.1f MB/s; journal alone: %.0f events/s\n",
           n_events, image_kb, fsync ? "each append" : "off", t1 - t0,
           n_events / (t1 - t0), mb / (t1 - t0), n_events / (t_appended - t0));

    /* Phase 2: latency at a steady rate. */
    double *lat = calloc((size_t)n_lat, sizeof(double));
    uint64_t first = (uint64_t)n_events + 2;
    double next = now_s();
    for (int i = 0; i < n_lat; i++) {
        while (now_s() < next) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        next += 1.0 / rate;
        uint64_t seq = first + (uint64_t)i;
        b.submit[seq] = now_s();
        append_event(o, seq, parts, sha);
        so_channel_notify(ch, seq);
    }
    so_channel_drain(ch, 60);
    int n_ok = 0;
    pthread_mutex_lock(&b.lock);
    for (int i = 0; i < n_lat; i++) {
        uint64_t seq = first + (uint64_t)i;
        if (b.acked[seq] > 0) {
            lat[n_ok++] = (b.acked[seq] - b.submit[seq]) * 1000.0;
        }
    }
    pthread_mutex_unlock(&b.lock);
    qsort(lat, (size_t)n_ok, sizeof(double), cmp_dbl);
    if (n_ok) {
        printf("latency: %d events at %.0f/s, confirmation -> journal fsync -> intake commit -> "
               "ack: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", n_ok, rate,
               lat[n_ok / 2], lat[(int)((n_ok - 1) * 0.99)], lat[n_ok - 1]);
    }
    so_channel_destroy(ch);
    so_outbox_close(o);
    free(lat);
    free(b.submit);
    free(b.acked);
    free(img[0]);
    free(img[1]);
    return n_ok == n_lat ? 0 : 1;
}
