/*
 * Why this file exists: the HTTP server must never reach into a camera's analysis state (the
 * static model, rules and tracker are single-threaded by design), and the analysis thread
 * must never wait for an operator's browser. So the analysis thread publishes a small,
 * self-contained summary after every frame: a frame reference (frames are immutable once
 * published, so sharing one costs a refcount, not a copy), a few boxes, and counters.
 *
 * Trade-offs: the stationary mask is a w*h byte copy, refreshed once a second of media time
 * rather than every frame (it is for eyes, not for decisions). fps figures are computed over
 * windows of at least 2 s on the analysis thread; a reader sees 0 once nothing was published
 * for 3 s (a blind camera analyses nothing, so its figures would otherwise freeze).
 */
#include "live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

const double so_live_buckets[SO_LIVE_N_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
};

#define FPS_WINDOW_S 2.0
#define FPS_STALE_S 3.0

void so_live_init(struct so_live *l)
{
    memset(l, 0, sizeof(*l));
    atomic_init(&l->episodes_opened, 0);
    atomic_init(&l->episodes_cleared, 0);
    atomic_init(&l->episodes_open, 0);
    atomic_init(&l->warnings_issued, 0);
    atomic_init(&l->warnings_opened, 0);
    atomic_init(&l->warnings_cleared, 0);
    for (int i = 0; i <= SO_LIVE_N_BUCKETS; i++) {
        atomic_init(&l->latency_le[i], 0);
    }
    atomic_init(&l->latency_count, 0);
    atomic_init(&l->latency_sum_ns, 0);
    atomic_init(&l->latency_last_ns, 0);
    pthread_mutex_init(&l->lock, NULL);
    l->dets_media_s = -1;
    l->health = -1;
}

void so_live_finish(struct so_live *l)
{
    if (!l) {
        return;
    }
    so_frame_unref(l->frame);
    free(l->static_mask);
    so_rules_status_destroy(l->status);
    pthread_mutex_destroy(&l->lock);
    memset(l, 0, sizeof(*l));
}

void so_live_count(struct so_live *l, enum so_episode_action action, bool warned)
{
    if (action == SO_EPISODE_OPENED) {
        atomic_fetch_add(&l->episodes_opened, 1);
        if (warned) {
            atomic_fetch_add(&l->warnings_opened, 1);
        }
    } else if (action == SO_EPISODE_CLEARED_NOW) {
        atomic_fetch_add(&l->episodes_cleared, 1);
    } else if (action == SO_EPISODE_WARNING) {
        atomic_fetch_add(&l->warnings_issued, 1);
    } else if (action == SO_EPISODE_WARNING_CLEARED) {
        atomic_fetch_add(&l->warnings_cleared, 1);
    }
}

/* The stationary mask at the model's size; NULL when out of memory (snapshots go without). */
static uint8_t *make_mask(const struct so_static_model *model, int w, int h)
{
    uint8_t *m = malloc((size_t)w * h);
    if (!m) {
        return NULL;
    }
    const float *age = so_static_model_age(model);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        m[i] = age[i] >= SO_LIVE_STATIC_AGE_S ? 255 : 0;
    }
    return m;
}

void so_live_publish(struct so_live *l, struct so_frame *f, double analysis_s, int episodes_open,
                     const struct so_track *tracks, int n_tracks,
                     const struct so_static_model *model, uint64_t frames_decoded)
{
    uint64_t ns = analysis_s > 0 ? (uint64_t)(analysis_s * 1e9) : 0;
    int b = 0;
    while (b < SO_LIVE_N_BUCKETS && analysis_s > so_live_buckets[b]) {
        b++;
    }
    atomic_fetch_add(&l->latency_le[b], 1);
    atomic_fetch_add(&l->latency_sum_ns, ns);
    atomic_fetch_add(&l->latency_count, 1);
    atomic_store(&l->latency_last_ns, ns);
    atomic_store(&l->episodes_open, episodes_open);

    /* fps over a window, on this thread: no reader-side state */
    double now = so_time_mono();
    l->analysed++;
    bool rate = false;
    double fps_d = 0, fps_a = 0;
    if (l->win_start == 0 || frames_decoded < l->win_decoded) {
        l->win_start = now;
        l->win_decoded = frames_decoded;
        l->win_analysed = l->analysed;
    } else if (now - l->win_start >= FPS_WINDOW_S) {
        double dt = now - l->win_start;
        fps_d = (double)(frames_decoded - l->win_decoded) / dt;
        fps_a = (double)(l->analysed - l->win_analysed) / dt;
        rate = true;
        l->win_start = now;
        l->win_decoded = frames_decoded;
        l->win_analysed = l->analysed;
    }

    uint8_t *mask = NULL;
    if (model && f->media_s >= l->next_mask_media) {
        l->next_mask_media = f->media_s + 1.0;
        mask = make_mask(model, f->width, f->height);
    }

    double last_look = -1;      /* the network's last look: the latest sighting of any track */
    for (int i = 0; i < n_tracks; i++) {
        last_look = tracks[i].last_seen_s > last_look ? tracks[i].last_seen_s : last_look;
    }
    struct so_frame *old = NULL;
    uint8_t *old_mask = NULL;
    pthread_mutex_lock(&l->lock);
    old = l->frame;
    l->frame = so_frame_ref(f);
    l->n_boxes = 0;
    for (int i = 0; i < n_tracks && l->n_boxes < SO_LIVE_MAX_BOXES; i++) {
        if (!tracks[i].present) {
            continue;
        }
        const struct so_box *bx = &tracks[i].box;
        struct so_live_box *lb = &l->boxes[l->n_boxes++];
        *lb = (struct so_live_box){bx->x, bx->y, bx->w, bx->h, tracks[i].id,
                                   tracks[i].stationary, .score = tracks[i].score,
                                   .last_look = tracks[i].last_seen_s >= last_look};
        snprintf(lb->cls, sizeof(lb->cls), "%s", tracks[i].cls);
    }
    if (mask || (l->static_mask && (l->mask_w != f->width || l->mask_h != f->height))) {
        old_mask = l->static_mask;
        l->static_mask = mask;
        l->mask_w = f->width;
        l->mask_h = f->height;
    }
    if (rate) {
        l->fps_decoded = fps_d;
        l->fps_analysed = fps_a;
    }
    l->rate_mono = now;
    pthread_mutex_unlock(&l->lock);
    so_frame_unref(old);    /* outside the lock: may free */
    free(old_mask);
}

void so_live_publish_detections(struct so_live *l, const struct so_detection *dets, int n,
                                double media_s)
{
    pthread_mutex_lock(&l->lock);
    l->n_dets = 0;
    for (int i = 0; i < n && l->n_dets < SO_LIVE_MAX_BOXES; i++) {
        struct so_live_det *d = &l->dets[l->n_dets++];
        *d = (struct so_live_det){dets[i].box.x, dets[i].box.y, dets[i].box.w, dets[i].box.h,
                                  .score = dets[i].score};
        snprintf(d->cls, sizeof(d->cls), "%s", dets[i].class_name ? dets[i].class_name : "?");
    }
    l->dets_media_s = media_s;
    pthread_mutex_unlock(&l->lock);
}

void so_live_get(struct so_live *l, bool with_frame, struct so_live_view *out)
{
    memset(out, 0, sizeof(*out));
    out->dets_media_s = -1;
    double now = so_time_mono();
    pthread_mutex_lock(&l->lock);
    if (with_frame && l->frame) {
        out->frame = so_frame_ref(l->frame);
        memcpy(out->boxes, l->boxes, sizeof(out->boxes));
        out->n_boxes = l->n_boxes;
        memcpy(out->dets, l->dets, sizeof(out->dets));
        out->n_dets = l->n_dets;
        out->dets_media_s = l->dets_media_s;
        if (l->static_mask) {
            size_t size = (size_t)l->mask_w * l->mask_h;
            out->static_mask = malloc(size);
            if (out->static_mask) {
                memcpy(out->static_mask, l->static_mask, size);
                out->mask_w = l->mask_w;
                out->mask_h = l->mask_h;
            }
        }
    }
    if (l->rate_mono > 0 && now - l->rate_mono < FPS_STALE_S) {
        out->fps_decoded = l->fps_decoded;
        out->fps_analysed = l->fps_analysed;
    }
    pthread_mutex_unlock(&l->lock);
}

void so_live_view_finish(struct so_live_view *v)
{
    so_frame_unref(v->frame);
    free(v->static_mask);
    memset(v, 0, sizeof(*v));
}

void so_live_set_health(struct so_live *l, int health, const char *detail)
{
    pthread_mutex_lock(&l->lock);
    if (l->health != health) {
        l->health = health;
        l->health_since = so_time_wall();
    }
    snprintf(l->health_detail, sizeof(l->health_detail), "%s", detail ? detail : "");
    pthread_mutex_unlock(&l->lock);
}

void so_live_publish_status(struct so_live *l, const struct so_rules_status *s, bool suspended)
{
    struct so_rules_status *copy = so_rules_status_copy(s);    /* outside the lock */
    if (copy && suspended) {
        copy->suspended = true;
    }
    pthread_mutex_lock(&l->lock);
    struct so_rules_status *old = l->status;
    l->status = copy;
    pthread_mutex_unlock(&l->lock);
    so_rules_status_destroy(old);
}

void so_live_episode(struct so_live *l, const struct so_event *ev)
{
    const char *id = json_string_value(json_object_get(ev->record, "episode_id"));
    if (!id) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    struct so_live_episode *e = NULL;
    for (int i = 0; i < l->n_episodes && !e; i++) {
        if (strcmp(l->episodes[i].episode, id) == 0) {
            e = &l->episodes[i];
        }
    }
    if (!e) {
        e = &l->episodes[l->episodes_head];
        l->episodes_head = (l->episodes_head + 1) % SO_LIVE_MAX_EPISODES;
        l->n_episodes += l->n_episodes < SO_LIVE_MAX_EPISODES;
    }
    memset(e, 0, sizeof(*e));
    snprintf(e->episode, sizeof(e->episode), "%s", id);
    snprintf(e->zone, sizeof(e->zone), "%s", ev->zone_id);
    snprintf(e->state, sizeof(e->state), "%s", ev->state);
    for (int i = 0; i < ev->n_evidence && i < SO_EVENT_MAX_EVIDENCE; i++) {
        snprintf(e->roles[i], sizeof(e->roles[i]), "%s", ev->evidence[i].role);
        snprintf(e->files[i], sizeof(e->files[i]), "%s", ev->evidence[i].file);
        e->n_files++;
    }
    pthread_mutex_unlock(&l->lock);
}

void so_live_get_console(struct so_live *l, struct so_live_console *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&l->lock);
    out->status = so_rules_status_copy(l->status);
    out->health = l->health;
    out->health_since = l->health_since;
    memcpy(out->health_detail, l->health_detail, sizeof(out->health_detail));
    for (int i = 0; i < l->n_episodes; i++) {      /* newest first */
        int k = (l->episodes_head - 1 - i + 2 * SO_LIVE_MAX_EPISODES) % SO_LIVE_MAX_EPISODES;
        out->episodes[out->n_episodes++] = l->episodes[k];
    }
    pthread_mutex_unlock(&l->lock);
}

void so_live_console_finish(struct so_live_console *c)
{
    so_rules_status_destroy(c->status);
    memset(c, 0, sizeof(*c));
}
