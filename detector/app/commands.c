/*
 * Why this file exists: a command arrives on the delivery thread, but what it acts on (an
 * episode, its place, its look) lives in one camera's rules on that camera's analysis thread,
 * and the answer must be on disk before it is given. This is the hand-off between the two,
 * kept apart from both so that neither waits: the channel never waits for a camera (its
 * answer says "accepted"; what the camera sees comes later as a record through the outbox),
 * and a camera never waits for the channel (it takes its commands between two frames).
 *
 * - Lookup: the analysis threads tell the desk about every episode opened and cleared, with
 *   the place and look of the thing when it opened (the same look the rules keep), so the
 *   channel thread can answer "unknown episode" or "not open" at once, route the command to
 *   the camera, and journal a dismissal *with* what must stay silenced: the journal alone
 *   gives new rules their gates after a restart (episode ids do not survive one).
 * - Journal first: an answer ok:true is given only once its line is fsynced; a replayed id
 *   gets the journalled answer with "duplicate": true and changes nothing.
 * - Deadline: a verify waits at most SO_COMMANDS_VERIFY_S for its camera's next analysed frame;
 *   then this desk's own thread answers "unknown" (camera down, stream ended).
 */
#include "commands.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appearance.h"
#include "cmdjournal.h"
#include "command.h"
#include "log.h"
#include "timeutil.h"

#define WHO "commands"
#define LOOK_SCALE 100.0    /* a look (unit variance) is journalled as integers of 1/100 */

/* An episode the desk knows of, and where its thing stood when it opened. */
struct entry {
    bool used, open;
    unsigned long stamp;
    char id[33], cleared[16];
    const struct so_camera_cfg *camera;
    const struct so_zone_cfg *zone;
    struct so_episode ep;
    struct so_object obj;
    int n_obj;
    double wall_s, media_s;     /* the clock of its last report */
    struct so_box box;
    float *look;
    int tw, th, width, height;
};

/* A command waiting for its camera. */
struct item {
    bool used;
    struct so_command cmd;
    char camera_id[64];
    double deadline;            /* verify: monotonic */
    json_t *place;              /* dismiss: what stays silenced (journal form) */
};

struct so_commands {
    struct so_cmdjournal *journal;
    pthread_mutex_t lock;
    struct entry eps[SO_COMMANDS_EPISODES];
    unsigned long stamp;
    struct item queue[SO_COMMANDS_QUEUE_MAX];
    const struct so_config *cfg;
    struct so_outputs *outputs;
    struct so_event_ctx ectx;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    double refused_logged;
    unsigned long refused;
};

/* --- the episodes (lock held) --- */

static struct entry *entry_find(struct so_commands *d, const char *id)
{
    for (int i = 0; i < SO_COMMANDS_EPISODES; i++) {
        if (d->eps[i].used && strcmp(d->eps[i].id, id) == 0) {
            return &d->eps[i];
        }
    }
    return NULL;
}

/* A slot for a new episode: a free one, else the least recent cleared one, else the least
 * recent. */
static struct entry *entry_new(struct so_commands *d)
{
    struct entry *best = NULL;
    for (int i = 0; i < SO_COMMANDS_EPISODES; i++) {
        struct entry *e = &d->eps[i];
        if (!e->used) {
            return e;
        }
        if (!best || (best->open && !e->open) ||
            (best->open == e->open && e->stamp < best->stamp)) {
            best = e;
        }
    }
    free(best->look);
    return best;
}

static void entry_clock(struct entry *e, const struct so_report *rep)
{
    e->wall_s = rep->now->wall_s;
    e->media_s = rep->now->media_s;
    e->ep = *rep->episode;
    e->n_obj = rep->n_objects > 0;
    if (e->n_obj) {
        e->obj = rep->objects[0];
    }
}

/* The place of a report's things: the union of their boxes (none: the zone's whole frame). */
static struct so_box report_box(const struct so_report *rep)
{
    if (!rep->n_objects) {
        return (struct so_box){0, 0, rep->now->width, rep->now->height};
    }
    int x0 = rep->objects[0].box[0], y0 = rep->objects[0].box[1];
    int x1 = x0 + rep->objects[0].box[2], y1 = y0 + rep->objects[0].box[3];
    for (int i = 1; i < rep->n_objects; i++) {
        const int *b = rep->objects[i].box;
        x0 = b[0] < x0 ? b[0] : x0;
        y0 = b[1] < y0 ? b[1] : y0;
        x1 = b[0] + b[2] > x1 ? b[0] + b[2] : x1;
        y1 = b[1] + b[3] > y1 ? b[1] + b[3] : y1;
    }
    return (struct so_box){x0, y0, x1 - x0, y1 - y0};
}

static void entry_open(struct so_commands *d, const struct so_report *rep)
{
    struct entry *e = entry_new(d);
    *e = (struct entry){.used = true, .open = true, .stamp = ++d->stamp, .camera = rep->camera,
                        .zone = rep->zone, .width = rep->now->width, .height = rep->now->height};
    snprintf(e->id, sizeof(e->id), "%s", rep->episode->id);
    entry_clock(e, rep);
    e->box = so_box_clip(report_box(rep), rep->now->width, rep->now->height);
    so_look_grid(e->box.w, e->box.h, &e->tw, &e->th);
    e->look = e->tw >= 4 && e->th >= 4 ? malloc(sizeof(float) * (size_t)e->tw * e->th) : NULL;
    if (e->look && !so_look_sample(rep->now, e->box, e->tw, e->th, e->look)) {
        free(e->look);
        e->look = NULL;
    }
}

void so_commands_report(struct so_commands *d, const struct so_report *rep)
{
    if (!d || !rep->now || rep->action == SO_EPISODE_VERIFIED) {
        return;
    }
    pthread_mutex_lock(&d->lock);
    struct entry *e = entry_find(d, rep->episode->id);
    if (rep->action == SO_EPISODE_OPENED && !e) {
        entry_open(d, rep);
    } else if (e) {
        entry_clock(e, rep);
        e->stamp = ++d->stamp;
        if (rep->action == SO_EPISODE_CLEARED_NOW) {
            e->open = false;
            free(e->look);      /* only a dismissal needs it, and only while it is open */
            e->look = NULL;
            snprintf(e->cleared, sizeof(e->cleared), "%s", rep->reason ? rep->reason : "");
        }
    }
    pthread_mutex_unlock(&d->lock);
}

/* --- verification records --- */

/* A verification of episode `episode_id` that no camera could make (no frame, the camera
 * blind, the episode gone from its rules), built from what the desk remembers. */
static void verification_without_frame(struct so_commands *d, const char *episode_id,
                                       const char *command_id, const char *result,
                                       const char *reason)
{
    pthread_mutex_lock(&d->lock);
    struct entry *e = entry_find(d, episode_id);
    struct entry copy = e ? *e : (struct entry){0};
    pthread_mutex_unlock(&d->lock);
    if (!e || !d->outputs) {
        so_warn(WHO, "command %s: episode %s forgotten: no verification record", command_id,
                episode_id);
        return;
    }
    double now = so_time_wall();
    int no_xy[2] = {0, 0};
    struct so_report rep = {
        .action = SO_EPISODE_VERIFIED, .camera = copy.camera, .zone = copy.zone,
        .episode = &copy.ep, .zone_xy = no_xy, .occupancy = -1, .command_id = command_id,
        .verified = result, .verify_reason = reason, .wall_s = now,
        .media_s = copy.media_s + (now - copy.wall_s),
    };
    struct so_event *ev = so_event_create(&d->ectx, &rep);
    if (ev) {
        so_outputs_submit(d->outputs, ev);
    }
    so_info(copy.camera->id, "episode %s verified: %s (%s)", episode_id, result, reason);
}

/* The deadline thread: verifies no camera took in time answer unknown. */
static void *deadline_main(void *arg)
{
    struct so_commands *d = arg;
    while (!atomic_load(&d->stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        double now = so_time_mono();
        for (int i = 0; i < SO_COMMANDS_QUEUE_MAX; i++) {
            pthread_mutex_lock(&d->lock);
            struct item *it = &d->queue[i];
            bool late = it->used && it->cmd.kind == SO_COMMAND_VERIFY && now >= it->deadline;
            struct so_command cmd = it->cmd;
            char camera[64];
            snprintf(camera, sizeof(camera), "%s", it->camera_id);
            it->used = it->used && !late;
            pthread_mutex_unlock(&d->lock);
            if (late) {
                char why[160];
                snprintf(why, sizeof(why), "no analysed frame from camera %s within %.0f s "
                         "(camera down or its stream ended)", camera, SO_COMMANDS_VERIFY_S);
                verification_without_frame(d, cmd.episode_id, cmd.id, "unknown", why);
            }
        }
    }
    return NULL;
}

/* --- the channel side --- */

static char *answer_of(json_t *entry, bool duplicate)
{
    json_t *res = json_object_get(entry, "result");
    const char *error = json_string_value(json_object_get(res, "error"));
    return so_command_result(json_string_value(json_object_get(entry, "id")),
                             json_is_true(json_object_get(res, "ok")), duplicate, error);
}

/* The journal form of an entry's place: what a dismissal keeps silenced. */
static json_t *place_json(const struct entry *e)
{
    json_t *look = json_array();
    for (int i = 0; e->look && i < e->tw * e->th; i++) {
        json_array_append_new(look, json_integer((json_int_t)lrint(e->look[i] * LOOK_SCALE)));
    }
    return json_pack("{s:s, s:s, s:[i,i,i,i], s:i, s:i, s:i, s:i, s:o}", "camera_id",
                     e->camera->id, "zone_id", e->zone->id, "box", e->box.x, e->box.y, e->box.w,
                     e->box.h, "width", e->width, "height", e->height, "tw", e->tw, "th",
                     e->tw ? e->th : 0, "look", look);
}

/* Which camera a verify or dismiss goes to (lock held); the dismissal's place. */
static int route_episode(struct so_commands *d, const struct so_command *c, char *camera,
                         json_t **place, char *err, size_t size)
{
    struct entry *e = entry_find(d, c->episode_id);
    if (!e) {
        snprintf(err, size, "unknown episode %s (not opened by this detector, or forgotten)",
                 c->episode_id);
        return -ENOENT;
    }
    if (!e->open) {
        snprintf(err, size, "episode %s is not open (cleared: %s)", c->episode_id, e->cleared);
        return -ENOENT;
    }
    snprintf(camera, 64, "%s", e->camera->id);
    if (c->kind == SO_COMMAND_DISMISS) {
        *place = place_json(e);
    }
    return 0;
}

static int route_permit(struct so_commands *d, const struct so_command *c, char *camera,
                        char *err, size_t size)
{
    const struct so_camera_cfg *cam = d->cfg ? so_config_find_camera(d->cfg, c->camera_id) : NULL;
    if (!cam) {
        snprintf(err, size, "unknown camera %s", c->camera_id);
        return -ENOENT;
    }
    for (size_t i = 0; i < cam->n_zones; i++) {
        if (strcmp(cam->zones[i].id, c->zone_id) == 0) {
            snprintf(camera, 64, "%s", c->camera_id);
            return 0;
        }
    }
    snprintf(err, size, "camera %s has no zone %s", c->camera_id, c->zone_id);
    return -ENOENT;
}

/* A free mailbox slot (lock held), or NULL. */
static struct item *queue_slot(struct so_commands *d)
{
    for (int i = 0; i < SO_COMMANDS_QUEUE_MAX; i++) {
        if (!d->queue[i].used) {
            return &d->queue[i];
        }
    }
    return NULL;
}

/* Route a parsed command: its camera, a mailbox slot, the dismissal's place. */
static struct item *route(struct so_commands *d, const struct so_command *c, json_t **place,
                          char *err, size_t size)
{
    char camera[64] = "";
    pthread_mutex_lock(&d->lock);
    struct item *it = queue_slot(d);
    int rc = c->kind == SO_COMMAND_PERMIT ? route_permit(d, c, camera, err, size)
                                          : route_episode(d, c, camera, place, err, size);
    if (rc == 0 && !it) {
        snprintf(err, size, "too many commands waiting for their cameras (%d): try again",
                 SO_COMMANDS_QUEUE_MAX);
    }
    if (rc == 0 && it) {
        *it = (struct item){.cmd = *c, .deadline = so_time_mono() + SO_COMMANDS_VERIFY_S};
        snprintf(it->camera_id, sizeof(it->camera_id), "%s", camera);
    }
    pthread_mutex_unlock(&d->lock);
    return rc == 0 ? it : NULL;
}

static void log_refused(struct so_commands *d, const char *id, const char *err)
{
    d->refused++;
    double now = so_time_mono();
    if (now - d->refused_logged >= 1.0) {
        so_warn(WHO, "command %s refused: %s (%lu refused so far)", id, err, d->refused);
        d->refused_logged = now;
    }
}

/* Journal the command and its answer; on success, post the routed item. */
static char *decide(struct so_commands *d, const char *id, const struct so_command *c,
                    bool parsed, struct item *it, json_t *place, const char *err)
{
    bool ok = it != NULL;
    json_t *entry = json_pack("{s:s, s:f, s:{s:b}}", "id", id, "until",
                              ok ? c->until_wall : so_time_wall(), "result", "ok", ok);
    if (!ok) {
        json_object_set_new(json_object_get(entry, "result"), "error", json_string(err));
    }
    if (parsed) {
        json_object_set_new(entry, "command", so_command_to_json(c));
    }
    if (place) {
        json_object_set(entry, "place", place);
    }
    int rc = so_cmdjournal_append(d->journal, entry);
    json_decref(entry);
    if (rc < 0) {
        so_err(WHO, "command %s: cannot journal it (%s): refused", id, strerror(-rc));
        ok = false;
        err = "the detector cannot journal commands now (disk?)";
    }
    pthread_mutex_lock(&d->lock);
    if (it && ok) {
        it->place = place ? json_incref(place) : NULL;
        it->used = true;    /* only now may its camera take it */
    }
    pthread_mutex_unlock(&d->lock);
    return so_command_result(id, ok, false, ok ? NULL : err);
}

char *so_commands_handle(void *opaque, const char *id, const char *json, size_t len)
{
    struct so_commands *d = opaque;
    json_t *seen = so_cmdjournal_find(d->journal, id);
    if (seen) {
        so_info(WHO, "command %s again: same answer, nothing changed", id);
        char *a = answer_of(seen, true);
        json_decref(seen);
        return a;
    }
    struct so_command c;
    char err[256] = "";
    json_t *place = NULL;
    bool parsed = so_command_parse(id, json, len, so_time_wall(), &c, err, sizeof(err)) == 0;
    struct item *it = parsed ? route(d, &c, &place, err, sizeof(err)) : NULL;
    if (!it) {
        log_refused(d, id, err);
    } else {
        so_info(WHO, "command %s: %.*s", id, (int)(len < 400 ? len : 400), json);
    }
    char *answer = decide(d, id, &c, parsed, it, place, err);
    json_decref(place);
    return answer;
}

/* --- the analysis side --- */

/* The journal form of a place back into a suppression on `rules` (analysis size w x h). */
static void suppress_place(struct so_rules *rules, json_t *place, double until, int w, int h)
{
    int bx, by, bw, bh, pw, ph, tw, th;
    const char *zone;
    json_t *look;
    if (json_unpack(place, "{s:s, s:[i,i,i,i], s:i, s:i, s:i, s:i, s:o}", "zone_id", &zone,
                    "box", &bx, &by, &bw, &bh, "width", &pw, "height", &ph, "tw", &tw, "th",
                    &th, "look", &look) != 0 || pw != w || ph != h) {
        return;     /* another analysis size: the place means nothing here */
    }
    size_t n = (size_t)tw * (size_t)th;
    float *f = n && json_array_size(look) == n ? malloc(sizeof(float) * n) : NULL;
    for (size_t i = 0; f && i < n; i++) {
        f[i] = (float)(json_integer_value(json_array_get(look, i)) / LOOK_SCALE);
    }
    so_rules_suppress(rules, zone, (struct so_box){bx, by, bw, bh}, f, f ? tw : 0, th, until);
    free(f);
}

static void run_one(struct so_commands *d, struct item *it, struct so_rules *rules,
                    const char *blind)
{
    const struct so_command *c = &it->cmd;
    if (c->kind == SO_COMMAND_PERMIT) {
        so_rules_permit(rules, c->zone_id, c->from_wall, c->until_wall);
    } else if (c->kind == SO_COMMAND_DISMISS) {
        if (so_rules_dismiss(rules, c->episode_id) < 0) {
            so_info(it->camera_id, "episode %s had ended before its dismissal: the thing stays "
                    "silenced while it stays", c->episode_id);
        }
        int w = 0, h = 0;
        json_unpack(it->place, "{s:i, s:i}", "width", &w, "height", &h);
        suppress_place(rules, it->place, c->until_wall, w, h);
    } else if (blind) {
        verification_without_frame(d, c->episode_id, c->id, "unknown", blind);
    } else if (so_rules_verify(rules, c->episode_id, c->id) < 0) {
        pthread_mutex_lock(&d->lock);
        struct entry *e = entry_find(d, c->episode_id);
        bool cleared = e && !e->open;
        char why[96];
        snprintf(why, sizeof(why), "the episode ended meanwhile (cleared: %s)",
                 cleared ? e->cleared : "");
        pthread_mutex_unlock(&d->lock);
        verification_without_frame(d, c->episode_id, c->id, cleared ? "gone" : "unknown",
                                   cleared ? why : "the episode is no longer followed "
                                                   "(the camera's analysis restarted)");
    }
}

void so_commands_run(struct so_commands *d, const char *camera_id, struct so_rules *rules,
                     const char *blind)
{
    if (!d || !rules) {
        return;
    }
    for (int i = 0; i < SO_COMMANDS_QUEUE_MAX; i++) {
        pthread_mutex_lock(&d->lock);
        struct item it = d->queue[i];
        bool mine = it.used && strcmp(it.camera_id, camera_id) == 0;
        if (mine) {
            d->queue[i].used = false;
            d->queue[i].place = NULL;   /* moved to `it` */
        }
        pthread_mutex_unlock(&d->lock);
        if (mine) {
            run_one(d, &it, rules, blind);
            json_decref(it.place);
        }
    }
}

/* One journal entry still in force for camera_id, given to the rules. */
static bool replay_entry(json_t *e, const char *camera_id, struct so_rules *rules, int w, int h,
                         double now)
{
    struct so_command c;
    if (!json_is_true(json_object_get(json_object_get(e, "result"), "ok")) ||
        so_command_from_json(json_object_get(e, "command"), &c) < 0 || c.until_wall <= now) {
        return false;
    }
    if (c.kind == SO_COMMAND_PERMIT && strcmp(c.camera_id, camera_id) == 0) {
        return so_rules_permit(rules, c.zone_id, c.from_wall, c.until_wall) == 0;
    }
    json_t *place = json_object_get(e, "place");
    const char *cam = json_string_value(json_object_get(place, "camera_id"));
    if (c.kind != SO_COMMAND_DISMISS || !cam || strcmp(cam, camera_id) != 0) {
        return false;
    }
    suppress_place(rules, place, c.until_wall, w, h);
    return true;
}

void so_commands_replay(struct so_commands *d, const char *camera_id, struct so_rules *rules,
                        int width, int height)
{
    if (!d || !rules) {
        return;
    }
    json_t *all = so_cmdjournal_entries(d->journal);
    double now = so_time_wall();
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) {
        n += replay_entry(e, camera_id, rules, width, height, now);
    }
    json_decref(all);
    if (n) {
        so_info(camera_id, "%d dismissal%s and permit%s from the command journal in force", n,
                n == 1 ? "" : "s", n == 1 ? "" : "s");
    }
}

/* --- lifetime --- */

struct so_commands *so_commands_create(const char *journal_path)
{
    struct so_commands *d = calloc(1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    atomic_init(&d->stop, false);
    d->journal = so_cmdjournal_open(journal_path, so_time_wall());
    if (!d->journal) {
        so_commands_destroy(d);
        return NULL;
    }
    return d;
}

int so_commands_start(struct so_commands *d, struct so_outputs *outputs,
                      const struct so_event_ctx *ectx)
{
    d->outputs = outputs;
    d->ectx = *ectx;
    if (pthread_create(&d->thread, NULL, deadline_main, d) != 0) {
        return -EAGAIN;
    }
    d->started = true;
    return 0;
}

void so_commands_set_config(struct so_commands *d, const struct so_config *cfg)
{
    if (d) {
        pthread_mutex_lock(&d->lock);
        d->cfg = cfg;
        pthread_mutex_unlock(&d->lock);
    }
}

void so_commands_stop(struct so_commands *d)
{
    if (d && d->started) {
        atomic_store(&d->stop, true);
        pthread_join(d->thread, NULL);
        d->started = false;
    }
}

void so_commands_destroy(struct so_commands *d)
{
    if (!d) {
        return;
    }
    so_commands_stop(d);
    for (int i = 0; i < SO_COMMANDS_EPISODES; i++) {
        free(d->eps[i].look);
    }
    for (int i = 0; i < SO_COMMANDS_QUEUE_MAX; i++) {
        json_decref(d->queue[i].place);
    }
    so_cmdjournal_close(d->journal);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
