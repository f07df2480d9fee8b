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
 *
 * The sinks live in their own files (sink_files.c, sink_outbox.c, sink_pub.c,
 * sink_console.c); this file keeps the queue, the thread, the numbering and the latency, and
 * handle_event() is the one place that fixes the order of the side effects of an event:
 * evidence files, outbox append (+ fsync) and channel wake-up, `--events` and JSONL lines,
 * PUB, seq file, console line. Explicit calls rather than a loop over a vtable, because the
 * steps are not uniform (evidence before the record is serialised, the seq file after the
 * latency point) and the order is the contract (docs/delivery.md).
 *
 * The queue is bounded (SO_OUTPUTS_QUEUE_MAX events) so a stalled disk cannot eat the
 * memory: live, a full queue drops the new event, loudly (a rate-limited error line and
 * streetorder_events_dropped_total) and analysis goes on; with `wait` (file runs with --fast)
 * the producer waits instead, because there a drop would be data loss for no reason: nobody
 * needs the analysis to keep real time. Health records are not bounded: a few per camera and
 * state change, and dropping one would leave the feed showing a wrong state.
 */
#include "outputs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink_console.h"
#include "sink_files.h"
#include "sink_outbox.h"
#include "sink_pub.h"
#include "timeutil.h"

/* At most one "dropped" error line per this many seconds (the counter counts every drop). */
#define DROP_LOG_INTERVAL_S 10.0
/* The warnings (a zone's warn_s) whose seq a later record of their episode can name. */
#define WARNINGS_KEPT 64

struct warned {
    char episode[33];
    unsigned long long seq;
};

struct item {
    struct item *next;
    struct so_event *ev;    /* an event, or NULL for a health record */
    json_t *health;
    char topic[160];
};

struct so_outputs {
    const struct so_config *cfg;
    bool console;
    bool wait;                  /* a full queue makes the producer wait (else it drops) */
    size_t queue_max;
    struct so_sink_files *files;
    struct so_sink_pub *pub;            /* NULL without outputs.publish */
    struct so_sink_outbox *outbox;      /* NULL without outputs.deliver.endpoint */
    unsigned long long seq;
    struct warned warned[WARNINGS_KEPT];   /* a ring of the latest warnings (outputs thread) */
    int warned_head;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;       /* guards the queue, busy, stopping, the drop log */
    pthread_cond_t cond;        /* queue not empty, or idle and empty (drain) */
    pthread_cond_t space;       /* the queue has room (waiting producers) */
    struct item *head, *tail;
    size_t queued;              /* events in the queue (health records not counted) */
    bool stopping;
    bool busy;                  /* the thread is handling an item (for drain) */
    atomic_ulong written;
    atomic_ulong dropped;       /* events dropped on a full queue */
    unsigned long drops_logged; /* value of dropped at the last log line */
    double drop_logged_at;      /* so_time_mono() of that line */
    pthread_mutex_t lat_lock;   /* decode-to-event latencies, a ring of the latest */
    float lat[SO_LATENCY_WINDOW];
    unsigned long lat_n;
    double lat_sum;
};

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

/*
 * Records print reals with 15 significant digits: media seconds, rounded to the millisecond
 * when the record is built, read "14.749" rather than jansson's default round-trip form
 * "14.749000000000001" (the same double either way), in the JSONL files, on the PUB feed and
 * in the outbox that delivery resends from.
 */
#define RECORD_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/*
 * A warned episode's later records (opened, update, cleared, warning_cleared: they carry
 * media_warned_s) name the seq of its warning record, "warning_seq", so the platform links the
 * case to the warning it followed without searching. Seqs exist only here, hence here; the
 * latest WARNINGS_KEPT warnings are remembered (not across a restart: then the episode_id,
 * which is the same, is the link).
 */
static void link_warning(struct so_outputs *o, struct so_event *ev)
{
    const char *episode = json_string_value(json_object_get(ev->record, "episode_id"));
    if (!episode || !json_object_get(ev->record, "media_warned_s")) {
        return;
    }
    if (strcmp(ev->state, "warning") == 0) {
        struct warned *w = &o->warned[o->warned_head];
        o->warned_head = (o->warned_head + 1) % WARNINGS_KEPT;
        snprintf(w->episode, sizeof(w->episode), "%s", episode);
        w->seq = o->seq;
        return;
    }
    for (int i = 0; i < WARNINGS_KEPT; i++) {
        const struct warned *w = &o->warned[i];
        if (w->seq && strcmp(w->episode, episode) == 0) {
            json_object_set_new(ev->record, "warning_seq", json_integer((json_int_t)w->seq));
            return;
        }
    }
}

/* The order of these steps is the contract (design block above, docs/delivery.md). */
static void handle_event(struct so_outputs *o, struct so_event *ev)
{
    o->seq++;
    json_object_set_new(ev->record, "seq", json_integer((json_int_t)o->seq));
    link_warning(o, ev);
    so_sink_files_evidence(o->files, ev);
    char *json = json_dumps(ev->record, RECORD_FLAGS);
    if (!json) {
        so_err("outputs", "cannot serialise event %s", ev->event_id);
        return;
    }
    size_t len = strlen(json);
    if (o->outbox) {
        so_sink_outbox_append(o->outbox, o->seq, ev, json, len);
    }
    json[len] = '\n';   /* json_dumps allocates len + 1: reuse the NUL for the newline */
    so_sink_files_line(o->files, json, len + 1);
    json[len] = 0;
    so_sink_pub_send(o->pub, ev->topic, json, ev);
    free(json);
    if (ev->ready_mono > 0) {
        pthread_mutex_lock(&o->lat_lock);
        double l = so_time_mono() - ev->ready_mono;
        o->lat[o->lat_n++ % SO_LATENCY_WINDOW] = (float)l;
        o->lat_sum += l;
        pthread_mutex_unlock(&o->lat_lock);
    }
    so_sink_files_seq_save(o->files, o->seq);
    if (o->console) {
        so_sink_console_print(ev, ev->record);
    }
    atomic_fetch_add(&o->written, 1);
}

static void handle_health(struct so_outputs *o, const char *topic, json_t *health)
{
    char *json = json_dumps(health, RECORD_FLAGS);
    if (json) {
        so_sink_pub_send(o->pub, topic, json, NULL);
        free(json);
    }
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
        if (it->ev) {
            o->queued--;
            pthread_cond_signal(&o->space);
        }
        o->busy = true;
        pthread_mutex_unlock(&o->lock);
        if (it->ev) {
            handle_event(o, it->ev);
            so_event_destroy(it->ev);
        } else {
            handle_health(o, it->topic, it->health);
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

/* Called with the lock held, for an event that does not fit: count it, and log the first
 * drop and then at most one line per DROP_LOG_INTERVAL_S with the number since the last. */
static void count_drop(struct so_outputs *o, const struct so_event *ev)
{
    unsigned long dropped = atomic_fetch_add(&o->dropped, 1) + 1;
    double now = so_time_mono();
    if (o->drops_logged && now - o->drop_logged_at < DROP_LOG_INTERVAL_S) {
        return;
    }
    so_err("outputs", "EVENT DROPPED: the outputs queue is full (%zu events: the disk or the "
           "outbox is not keeping up); event %s (%s %s) and %lu more since the last report are "
           "lost, %lu in all", o->queue_max, ev->event_id, ev->camera_id, ev->kind,
           dropped - o->drops_logged - 1, dropped);
    o->drops_logged = dropped;
    o->drop_logged_at = now;
}

/* Queue an item; an event that finds the queue full waits (o->wait) or is dropped. Returns
 * false when the item was not queued (the caller still owns it). */
static bool enqueue(struct so_outputs *o, struct item *it)
{
    pthread_mutex_lock(&o->lock);
    if (it->ev) {
        while (o->wait && o->queued >= o->queue_max && o->thread_started) {
            pthread_cond_wait(&o->space, &o->lock);
        }
        if (o->queued >= o->queue_max) {
            count_drop(o, it->ev);
            pthread_mutex_unlock(&o->lock);
            return false;
        }
        o->queued++;
    }
    if (o->tail) {
        o->tail->next = it;
    } else {
        o->head = it;
    }
    o->tail = it;
    pthread_cond_broadcast(&o->cond);   /* drain may wait on the same condition */
    pthread_mutex_unlock(&o->lock);
    return true;
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
    if (!enqueue(o, it)) {
        so_event_destroy(ev);
        free(it);
    }
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
    return so_sink_outbox_lost(o->outbox);
}

unsigned long so_outputs_dropped(struct so_outputs *o)
{
    return o ? atomic_load(&o->dropped) : 0;
}

size_t so_outputs_queued(struct so_outputs *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->queued;
    pthread_mutex_unlock(&o->lock);
    return n;
}

void so_outputs_delivery_stats(struct so_outputs *o, struct so_delivery_stats *out)
{
    *out = (struct so_delivery_stats){0};
    if (!o || !o->outbox) {
        return;
    }
    so_sink_outbox_stats(o->outbox, out);
}

size_t so_outputs_drain(struct so_outputs *o, double seconds, bool (*go_on)(void *opaque),
                        void *opaque)
{
    if (!o || !o->outbox) {
        return 0;
    }
    /* First let the outputs thread journal everything queued (never long: local disk). */
    pthread_mutex_lock(&o->lock);
    while (o->thread_started && (o->head || o->busy)) {
        pthread_cond_wait(&o->cond, &o->lock);
    }
    pthread_mutex_unlock(&o->lock);
    return so_sink_outbox_drain(o->outbox, seconds, go_on, opaque);
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
        unsigned long dropped = atomic_load(&o->dropped);
        if (dropped) {
            so_err("outputs", "%lu event%s dropped on a full outputs queue", dropped,
                   dropped == 1 ? "" : "s");
        }
    }
    so_sink_outbox_destroy(o->outbox);
    while (o->head) {   /* only when the thread never started */
        struct item *it = o->head;
        o->head = it->next;
        so_event_destroy(it->ev);
        json_decref(it->health);
        free(it);
    }
    so_sink_pub_destroy(o->pub);
    so_sink_files_destroy(o->files);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->lat_lock);
    pthread_cond_destroy(&o->cond);
    pthread_cond_destroy(&o->space);
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
    o->wait = opts->wait_when_full;
    o->queue_max = opts->queue_max ? opts->queue_max : SO_OUTPUTS_QUEUE_MAX;
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->lat_lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    pthread_cond_init(&o->space, NULL);
    atomic_init(&o->written, 0);
    atomic_init(&o->dropped, 0);

    o->files = so_sink_files_create(cfg);
    if (!o->files) {
        goto fail;
    }
    o->seq = so_sink_files_seq_load(o->files);
    if (cfg->deliver.endpoint) {
        o->outbox = so_sink_outbox_create(cfg, &o->seq, opts->on_command,
                                          opts->command_opaque);
        if (!o->outbox) {
            goto fail;
        }
    }
    if (so_sink_files_open(o->files, cfg, opts->events_path) < 0) {
        goto fail;
    }
    if (cfg->publish) {
        o->pub = so_sink_pub_create(cfg->publish);
        if (!o->pub) {
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
