/*
 * Event records (ARCHITECTURE "Event record", schema streetorder.event.v1): built from a rule's
 * report on the analysis thread (JSON through jansson, evidence JPEGs encoded and hashed here,
 * CPU only, no I/O), then handed to the outputs thread, which assigns `seq` and writes them;
 * a camera with an `evidence_url` hands them through its evidence worker (evidence_worker.h),
 * which may first replace an image with one from a high-resolution still.
 *
 * Ownership: so_event_create() returns an event owned by the caller until it is passed to
 * so_outputs_submit() or so_evidence_worker_submit() (either takes it, even on failure). Not
 * shared between threads while owned.
 */
#ifndef SO_EVENTS_EVENT_H
#define SO_EVENTS_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "categories.h"
#include "rules.h"

#define SO_EVENT_SCHEMA "streetorder.event.v1"
#define SO_HEALTH_SCHEMA "streetorder.health.v1"
#define SO_EVENT_MAX_EVIDENCE 3

struct so_evidence {
    char role[16];          /* rest | confirm | after | warning | verification */
    uint8_t *jpeg;          /* malloc()ed JPEG bytes */
    size_t size;
    char sha256[65];
    char file[96];          /* file name under the evidence folder */
    int width, height;      /* of the image */
};

/*
 * What an evidence image shows besides the picture: the zone and the object boxes in pixels of
 * a frame of `width` x `height` (the analysis size), drawn scaled onto a picture of any size,
 * the camera's privacy masks and a caption. The camera and zone are borrowed from their config
 * (configs stay loaded until exit, docs/architecture.md), `zone_xy` from the owner of the scene.
 */
struct so_evidence_scene {
    const struct so_camera_cfg *camera;
    const struct so_zone_cfg *zone;
    int width, height;
    const int *zone_xy;
    int zone_xy_n;
    int boxes[SO_REPORT_MAX_OBJECTS][4];
    int n_boxes;
};

struct so_event {
    json_t *record;         /* the record without "seq" */
    char event_id[33];
    char topic[160];        /* event.<kind>.<camera_id>; warning.<kind>.<camera_id> for the
                             * warning and warning_cleared states */
    struct so_evidence evidence[SO_EVENT_MAX_EVIDENCE];
    int n_evidence;
    /* for the console line */
    char camera_id[64], zone_id[64], kind[24], state[16], reason[16];
    double media_start_s, media_end_s, dwell_s, wall_s;
    double media_warned_s;  /* when its warning went out; -1: not warned */
    double occupancy;
    double ready_mono;      /* when the frame that decided it was decoded (latency), 0 unknown */
    /* Kept to render the evidence again on a higher-resolution still
     * (so_event_replace_evidence): the scene (zone_xy points into scene_xy, malloc()ed), the
     * analysis frame's media time and the JPEG quality. */
    struct so_evidence_scene scene;
    int *scene_xy;
    double media_s;
    int quality;
};

struct so_event_ctx {
    const char *detector_id;
    const char *model;      /* NULL when class-agnostic */
    int jpeg_quality;       /* 1..100, default 85 when 0 */
    /* The category mapping (local codes and names), NULL = standard codes and names only.
     * Borrowed: it must outlive every so_event_create() call with this context. */
    const struct so_categories *categories;
};

/* Build the record and evidence for a report. A verification (SO_EPISODE_VERIFIED) has state
 * "verification", its "verification" object, and a "verification" still when it has a frame
 * and its result is not "unknown"; without a frame (rep->now NULL) its times come from
 * rep->wall_s and rep->media_s. NULL only when out of memory. */
struct so_event *so_event_create(const struct so_event_ctx *ctx, const struct so_report *rep);

/* Free an event and its evidence. Accepts NULL. */
void so_event_destroy(struct so_event *ev);

/*
 * Draw the zone, the object boxes and a caption on a copy of `frame` (borrowed, unchanged),
 * black out the camera's privacy masks, and encode it as JPEG into `out` (role, JPEG, size,
 * sha256, width, height; `out` must hold no JPEG yet, the new one is the caller's to free).
 * Returns 0 or a negative errno.
 */
int so_evidence_render(const struct so_report *rep, struct so_frame *frame, const char *role,
                       int quality, struct so_evidence *out);

/*
 * Replace the event's evidence of `role` with a rendering of its scene on `still` (any size:
 * zone and boxes are scaled from the analysis size; borrowed), captioned with the event's time.
 * The record's evidence item gets the new size, sha256, width and height, and
 * "source": "evidence_url". Call while the event is owned (before so_outputs_submit). Returns
 * 0, -ENOENT when the event has no evidence of that role, or a negative errno with the event
 * unchanged.
 */
int so_event_replace_evidence(struct so_event *ev, const char *role,
                              const struct so_frame *still);

#endif
