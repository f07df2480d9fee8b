/*
 * Why this file exists: writes (disk) and sends (network) must not stall a camera's analysis,
 * and event numbering must be one sequence per detector whatever the number of cameras. One
 * thread, one FIFO: analysis threads push fully built events (JSON + JPEG already encoded);
 * this thread numbers them in arrival order and does all the I/O. It owns the ZeroMQ PUB
 * socket (ZeroMQ sockets are not thread-safe; one owner, as in CZMQ's actors).
 *
 * Durability here is "best effort, in order": a line is one write(2), so a crash never leaves
 * half a record in the JSONL files. The crash-safe outbox with acknowledgements is the
 * delivery module's job.
 */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "channel.h"
#include "log.h"
#include "outbox.h"
#include "timeutil.h"

struct item {
    struct item *next;
    struct so_event *ev;    /* an event, or NULL for a health record */
    json_t *health;
    char topic[160];
};

struct so_outputs {
    const struct so_config *cfg;
    bool console;
    int events_fd, jsonl_fd;
    char *evidence_dir;
    char *seq_path;
    unsigned long long seq;
    void *zctx, *pub;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item *head, *tail;
    bool stopping;
    bool busy;                  /* the thread is handling an item (for drain) */
    atomic_ulong written;
    /* reliable delivery (outputs.deliver.endpoint), else NULL */
    struct so_outbox *outbox;
    struct so_channel *channel;
    atomic_ulong lost;          /* events that could not be journalled (quota, disk) */
    pthread_mutex_t lat_lock;   /* decode-to-event latencies, a ring of the latest */
    float lat[SO_LATENCY_WINDOW];
    unsigned long lat_n;
    double lat_sum;
};

int so_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

char *so_outputs_resolve(const struct so_config *cfg, const char *path)
{
    char *out = NULL;
    if (path[0] == '/') {
        out = strdup(path);
    } else if (asprintf(&out, "%s/%s", cfg->state_dir, path) < 0) {
        out = NULL;
    }
    if (!out) {
        abort();
    }
    return out;
}

static int open_parent_and_file(const char *path, int flags)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = 0;
        so_mkdirs(dir);
    }
    free(dir);
    return open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

static void load_seq(struct so_outputs *o)
{
    FILE *f = fopen(o->seq_path, "r");
    if (f) {
        if (fscanf(f, "%llu", &o->seq) != 1) {
            o->seq = 0;
        }
        fclose(f);
    }
}

static void save_seq(struct so_outputs *o)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", o->seq_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return;
    }
    fprintf(f, "%llu\n", o->seq);
    if (fclose(f) == 0) {
        rename(tmp, o->seq_path);
    }
}

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static void write_evidence(struct so_outputs *o, const struct so_evidence *e)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", o->evidence_dir, e->file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !write_all(fd, (const char *)e->jpeg, e->size)) {
        so_err("outputs", "cannot write evidence %s: %s", path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void console_line(const struct so_event *ev, const json_t *rec)
{
    char when[40], dwell[32], line[1024];
    so_time_iso8601(ev->wall_s, when, sizeof(when));
    so_time_duration(ev->dwell_s, dwell, sizeof(dwell));
    char upper[12];
    size_t i = 0;
    for (; ev->state[i] && i < sizeof(upper) - 1; i++) {
        upper[i] = (char)(ev->state[i] >= 'a' && ev->state[i] <= 'z' ? ev->state[i] - 32
                                                                      : ev->state[i]);
    }
    upper[i] = 0;
    int n = snprintf(line, sizeof(line), "%.19s  %-12s %-12s %-18s %-8s dwell %-8s", when,
                     ev->camera_id, ev->zone_id, ev->kind, upper, dwell);
    if (ev->media_end_s >= 0) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, " media %.1f-%.1fs (%s)",
                      ev->media_start_s, ev->media_end_s, ev->reason);
    } else {
        n += snprintf(line + n, sizeof(line) - (size_t)n, " media from %.1fs", ev->media_start_s);
    }
    if (ev->occupancy >= 0 && n < (int)sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "  %.0f%% of zone",
                      ev->occupancy * 100.0);
    }
    /* What the dispatcher files it under, what is there, where. */
    const json_t *cat = json_object_get(rec, "category");
    const char *code = json_string_value(json_object_get(cat, "code"));
    const char *name = json_string_value(json_object_get(cat, "name"));
    if (code && name && n < (int)sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "  [%s %s]", code, name);
    }
    /* Objects: the first classified ones with their score, then how many unclassified. */
    const json_t *objs = json_object_get(rec, "objects");
    size_t shown = 0, unclassified = 0, more = 0;
    for (size_t k = 0; k < json_array_size(objs); k++) {
        const json_t *o = json_array_get(objs, k);
        const char *cls = json_string_value(json_object_get(o, "class"));
        if (!cls || strcmp(cls, "object") == 0) {
            unclassified++;
        } else if (shown == 3 || n >= (int)sizeof(line)) {
            more++;
        } else {
            n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s %.2f", shown ? ", " : "  ",
                          cls, json_real_value(json_object_get(o, "score")));
            shown++;
        }
    }
    if (unclassified + more && n < (int)sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%zu %sobject%s",
                      shown ? ", " : "  ", unclassified + more, shown ? "more " : "",
                      unclassified + more == 1 ? "" : "s");
    }
    const json_t *address = json_object_get(rec, "address");
    if (json_is_string(address) && n < (int)sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "  %s", json_string_value(address));
    }
    const json_t *grid = json_object_get(rec, "grid");
    if (json_is_string(grid) && n < (int)sizeof(line)) {
        n += snprintf(line + n, sizeof(line) - (size_t)n, "  grid %s", json_string_value(grid));
    }
    if (n < (int)sizeof(line)) {
        snprintf(line + n, sizeof(line) - (size_t)n, "  seq %lld",
                 (long long)json_integer_value(json_object_get(rec, "seq")));
    }
    printf("%s\n", line);
    fflush(stdout);
}

static void publish(struct so_outputs *o, const char *topic, const char *json,
                    const struct so_event *ev)
{
    if (!o->pub) {
        return;
    }
    int more = ev && ev->n_evidence ? ZMQ_SNDMORE : 0;
    zmq_send(o->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(o->pub, json, strlen(json), more | ZMQ_DONTWAIT);
    for (int i = 0; ev && i < ev->n_evidence; i++) {
        zmq_send(o->pub, ev->evidence[i].jpeg, ev->evidence[i].size,
                 (i + 1 < ev->n_evidence ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    }
}

/*
 * Append the event to the outbox (and so, with the default policy, fsync it) before it goes
 * anywhere else, then wake the delivery thread. When the journal refuses it (quota, full disk)
 * the event still goes to the JSONL files and the live feed, but it will never reach the
 * platform: say so loudly and count it.
 */
static void journal(struct so_outputs *o, const struct so_event *ev, const char *json,
                    size_t len)
{
    struct so_outbox_part parts[SO_EVENT_MAX_EVIDENCE];
    for (int i = 0; i < ev->n_evidence; i++) {
        parts[i] = (struct so_outbox_part){ev->evidence[i].jpeg, ev->evidence[i].size};
    }
    int rc = so_outbox_append(o->outbox, o->seq, json, len, parts, ev->n_evidence);
    if (rc == 0) {
        so_channel_notify(o->channel, o->seq);
        return;
    }
    unsigned long lost = atomic_fetch_add(&o->lost, 1) + 1;
    const char *why = rc == -EDQUOT ? "the outbox quota (outputs.deliver.quota_mb) is full"
                      : rc == -ENOSPC ? "the disk is full"
                                      : strerror(-rc);
    so_err("outputs", "DELIVERY LOSS: event seq %llu (%s) not journalled: %s; it is written to "
           "the JSONL files and the live feed but will NOT be delivered to the platform "
           "(%lu lost to delivery so far; %zu events wait for the platform)", o->seq,
           ev->event_id, why, lost, so_outbox_pending(o->outbox));
}

static void handle_event(struct so_outputs *o, struct so_event *ev)
{
    o->seq++;
    json_object_set_new(ev->record, "seq", json_integer((json_int_t)o->seq));
    for (int i = 0; i < ev->n_evidence; i++) {
        write_evidence(o, &ev->evidence[i]);
    }
    char *json = json_dumps(ev->record, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!json) {
        so_err("outputs", "cannot serialise event %s", ev->event_id);
        return;
    }
    size_t len = strlen(json);
    if (o->outbox) {
        journal(o, ev, json, len);
    }
    json[len] = '\n';   /* json_dumps allocates len + 1: reuse the NUL for the newline */
    if (o->events_fd >= 0 && !write_all(o->events_fd, json, len + 1)) {
        so_err("outputs", "cannot write the events file: %s", strerror(errno));
    }
    if (o->jsonl_fd >= 0 && !write_all(o->jsonl_fd, json, len + 1)) {
        so_err("outputs", "cannot write the JSONL file: %s", strerror(errno));
    }
    json[len] = 0;
    publish(o, ev->topic, json, ev);
    free(json);
    if (ev->ready_mono > 0) {
        pthread_mutex_lock(&o->lat_lock);
        double l = so_time_mono() - ev->ready_mono;
        o->lat[o->lat_n++ % SO_LATENCY_WINDOW] = (float)l;
        o->lat_sum += l;
        pthread_mutex_unlock(&o->lat_lock);
    }
    save_seq(o);
    if (o->console) {
        console_line(ev, ev->record);
    }
    atomic_fetch_add(&o->written, 1);
}

static void *thread_main(void *arg)
{
    struct so_outputs *o = arg;
    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (!o->head && !o->stopping) {
            pthread_cond_wait(&o->cond, &o->lock);
        }
        if (!o->head) {
            break;
        }
        struct item *it = o->head;
        o->head = it->next;
        if (!o->head) {
            o->tail = NULL;
        }
        o->busy = true;
        pthread_mutex_unlock(&o->lock);
        if (it->ev) {
            handle_event(o, it->ev);
            so_event_destroy(it->ev);
        } else {
            char *json = json_dumps(it->health, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (json) {
                publish(o, it->topic, json, NULL);
                free(json);
            }
            json_decref(it->health);
        }
        free(it);
        pthread_mutex_lock(&o->lock);
        o->busy = false;
        if (!o->head) {
            pthread_cond_broadcast(&o->cond);   /* drain waits for an idle, empty queue */
        }
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

static void enqueue(struct so_outputs *o, struct item *it)
{
    pthread_mutex_lock(&o->lock);
    if (o->tail) {
        o->tail->next = it;
    } else {
        o->head = it;
    }
    o->tail = it;
    pthread_cond_broadcast(&o->cond);   /* drain may wait on the same condition */
    pthread_mutex_unlock(&o->lock);
}

void so_outputs_submit(struct so_outputs *o, struct so_event *ev)
{
    struct item *it = calloc(1, sizeof(*it));
    if (!it) {
        so_err("outputs", "out of memory: event %s lost", ev->event_id);
        so_event_destroy(ev);
        return;
    }
    it->ev = ev;
    enqueue(o, it);
}

void so_outputs_health(struct so_outputs *o, const char *camera_id, const char *health,
                       const char *detail)
{
    struct item *it = calloc(1, sizeof(*it));
    if (!it) {
        return;
    }
    char when[40];
    so_time_iso8601(so_time_wall(), when, sizeof(when));
    it->health = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s}", "schema", SO_HEALTH_SCHEMA,
                           "detector_id", o->cfg->detector_id, "camera_id", camera_id, "health",
                           health, "detail", detail, "at", when);
    snprintf(it->topic, sizeof(it->topic), "health.%s", camera_id);
    enqueue(o, it);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void so_outputs_latency(struct so_outputs *o, struct so_latency_stats *out)
{
    *out = (struct so_latency_stats){0};
    float *v = malloc(sizeof(o->lat));
    if (!v) {
        return;
    }
    pthread_mutex_lock(&o->lat_lock);
    size_t n = o->lat_n < SO_LATENCY_WINDOW ? o->lat_n : SO_LATENCY_WINDOW;
    memcpy(v, o->lat, n * sizeof(*v));
    out->n = o->lat_n;
    out->sum = o->lat_sum;
    pthread_mutex_unlock(&o->lat_lock);
    if (n) {
        qsort(v, n, sizeof(*v), cmp_float);
        out->p50 = v[(n - 1) / 2];
        out->p99 = v[(size_t)((n - 1) * 0.99 + 0.5)];
        out->max = v[n - 1];
    }
    free(v);
}

unsigned long so_outputs_count(struct so_outputs *o)
{
    return atomic_load(&o->written);
}

unsigned long so_outputs_lost(struct so_outputs *o)
{
    return atomic_load(&o->lost);
}

void so_outputs_delivery_stats(struct so_outputs *o, struct so_delivery_stats *out)
{
    *out = (struct so_delivery_stats){0};
    if (!o || !o->outbox) {
        return;
    }
    out->enabled = true;
    out->pending = so_outbox_pending(o->outbox);
    out->oldest_age_s = so_outbox_oldest_age(o->outbox);
    out->outbox_bytes = so_outbox_bytes(o->outbox);
    struct so_channel_stats cs;
    so_channel_get_stats(o->channel, &cs);
    out->sent = cs.sent;
    out->resent = cs.resent;
    out->acked = cs.acked;
}

size_t so_outputs_drain(struct so_outputs *o, double seconds, bool (*go_on)(void *opaque),
                        void *opaque)
{
    if (!o || !o->channel) {
        return 0;
    }
    /* First let the outputs thread journal everything queued (never long: local disk). */
    pthread_mutex_lock(&o->lock);
    while (o->thread_started && (o->head || o->busy)) {
        pthread_cond_wait(&o->cond, &o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    size_t pending = so_outbox_pending(o->outbox);
    if (pending == 0) {
        return 0;
    }
    so_info("outputs", "waiting up to %g s for the platform to acknowledge %zu event%s",
            seconds, pending, pending == 1 ? "" : "s");
    double left = seconds;
    do {
        double step = left < 0.2 ? left : 0.2;
        pending = so_channel_drain(o->channel, step);
        left -= step;
    } while (pending && left > 0 && (!go_on || go_on(opaque)));
    if (pending) {
        so_warn("outputs", "%zu event%s still unacknowledged: kept in the outbox, resent first "
                "at the next start", pending, pending == 1 ? "" : "s");
    } else {
        so_info("outputs", "every event acknowledged by the platform");
    }
    return pending;
}

void so_outputs_destroy(struct so_outputs *o)
{
    if (!o) {
        return;
    }
    if (o->thread_started) {
        pthread_mutex_lock(&o->lock);
        o->stopping = true;
        pthread_cond_broadcast(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
        unsigned long n = atomic_load(&o->written);
        so_info("outputs", "%lu event%s written", n, n == 1 ? "" : "s");
        struct so_latency_stats lat;
        so_outputs_latency(o, &lat);
        if (lat.n) {
            so_info("outputs", "decode-to-event latency over %lu events: p50 %.1f ms, p99 %.1f ms, "
                    "max %.1f ms", lat.n, lat.p50 * 1e3, lat.p99 * 1e3, lat.max * 1e3);
        }
    }
    so_channel_destroy(o->channel);
    if (o->outbox) {
        size_t pending = so_outbox_pending(o->outbox);
        if (pending) {
            so_info("outputs", "%zu event%s unacknowledged, kept in the outbox", pending,
                    pending == 1 ? "" : "s");
        }
        so_outbox_close(o->outbox);
    }
    while (o->head) {   /* only when the thread never started */
        struct item *it = o->head;
        o->head = it->next;
        so_event_destroy(it->ev);
        json_decref(it->health);
        free(it);
    }
    if (o->pub) {
        int linger = 200;
        zmq_setsockopt(o->pub, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(o->pub);
    }
    if (o->zctx) {
        zmq_ctx_term(o->zctx);
    }
    if (o->events_fd >= 0) {
        close(o->events_fd);
    }
    if (o->jsonl_fd >= 0) {
        close(o->jsonl_fd);
    }
    free(o->evidence_dir);
    free(o->seq_path);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->lat_lock);
    pthread_cond_destroy(&o->cond);
    free(o);
}

struct so_outputs *so_outputs_create(const struct so_outputs_opts *opts)
{
    const struct so_config *cfg = opts->config;
    struct so_outputs *o = calloc(1, sizeof(*o));
    if (!o) {
        return NULL;
    }
    o->cfg = cfg;
    o->console = opts->console;
    o->events_fd = o->jsonl_fd = -1;
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->lat_lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    atomic_init(&o->written, 0);
    atomic_init(&o->lost, 0);

    int rc = so_mkdirs(cfg->state_dir);
    if (rc < 0) {
        so_err("outputs", "cannot create state directory %s: %s", cfg->state_dir, strerror(-rc));
        goto fail;
    }
    o->evidence_dir = cfg->evidence_dir ? so_outputs_resolve(cfg, cfg->evidence_dir)
                                        : so_outputs_resolve(cfg, "evidence");
    rc = so_mkdirs(o->evidence_dir);
    if (rc < 0) {
        so_err("outputs", "cannot create evidence directory %s: %s", o->evidence_dir,
               strerror(-rc));
        goto fail;
    }
    o->seq_path = so_outputs_resolve(cfg, "seq");
    load_seq(o);
    if (cfg->deliver.endpoint) {
        char *dir = so_outputs_resolve(cfg, "outbox");
        struct so_outbox_opts bo = {
            .dir = dir,
            .quota_bytes = (uint64_t)(cfg->deliver.quota_mb * 1024 * 1024),
            .fsync = cfg->deliver.fsync,
        };
        o->outbox = so_outbox_open(&bo);
        free(dir);
        if (!o->outbox) {
            goto fail;
        }
        /* The journal is the source of truth for numbering; the seq file also covers events
         * that could not be journalled. */
        unsigned long long last = so_outbox_last_seq(o->outbox);
        if (last > o->seq) {
            o->seq = last;
        }
        struct so_channel_opts co = {
            .endpoint = cfg->deliver.endpoint,
            .outbox = o->outbox,
            .resend_s = cfg->deliver.resend_s,
            .server_key = cfg->deliver.server_key,
            .public_key = cfg->deliver.public_key,
            .secret_key = cfg->deliver.secret_key,
        };
        o->channel = so_channel_create(&co);
        if (!o->channel) {
            goto fail;
        }
    }
    if (opts->events_path) {
        o->events_fd = open_parent_and_file(opts->events_path, O_TRUNC);
        if (o->events_fd < 0) {
            so_err("outputs", "cannot create %s: %s", opts->events_path, strerror(errno));
            goto fail;
        }
    }
    if (cfg->jsonl) {
        char *path = so_outputs_resolve(cfg, cfg->jsonl);
        o->jsonl_fd = open_parent_and_file(path, O_APPEND);
        if (o->jsonl_fd < 0) {
            so_err("outputs", "cannot open %s: %s", path, strerror(errno));
            free(path);
            goto fail;
        }
        free(path);
    }
    if (cfg->publish) {
        o->zctx = zmq_ctx_new();
        o->pub = o->zctx ? zmq_socket(o->zctx, ZMQ_PUB) : NULL;
        if (!o->pub || zmq_bind(o->pub, cfg->publish) != 0) {
            so_err("outputs", "cannot bind the live feed to %s: %s", cfg->publish,
                   zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    if (pthread_create(&o->thread, NULL, thread_main, o) != 0) {
        so_err("outputs", "cannot start the outputs thread");
        goto fail;
    }
    o->thread_started = true;
    return o;
fail:
    so_outputs_destroy(o);
    return NULL;
}
