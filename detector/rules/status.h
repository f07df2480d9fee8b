/*
 * What the rules decided on the last analysed frame, per zone and per candidate, for the
 * operators' console (GET /cameras/<id>/status.json and the camera page): whether the zone is
 * enforced now, its occupancy against min_occupancy, and for each thing it looked at (a
 * tracker track, a static blob, a followed vehicle) its class, age at rest against dwell_s,
 * whether it counts and why not.
 *
 * The rules fill it with one-line calls where they decide (rules_status_* in rules_impl.h);
 * nothing here changes a decision. The analysis thread copies it out after each frame
 * (so_rules_status_copy) for the HTTP threads, which only format it (so_rules_status_json).
 *
 * Plain data (fixed arrays, one malloc()ed zone array): a copy is an allocation and a memcpy.
 * Ownership: a status from so_rules_status_copy() is the caller's, freed with
 * so_rules_status_destroy() (accepts NULL). Not thread-safe; immutable once copied.
 */
#ifndef SO_RULES_STATUS_H
#define SO_RULES_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "episode.h"

#define SO_STATUS_MAX_CANDS 16

/* Why a candidate counts toward its dwell, or why not. Names: so_status_why_name(). */
enum so_status_why {
    SO_WHY_COUNTS = 0,          /* at rest in the zone, of the zone's kind: its age counts */
    SO_WHY_NOT_ENFORCED,        /* the zone's schedule does not enforce it now */
    SO_WHY_CONFIRMING,          /* a static blob followed for less than the confirmation time */
    SO_WHY_UNSEEN,              /* followed, but not seen on this frame (hidden, lost) */
    SO_WHY_MOVING,              /* not at rest */
    SO_WHY_PERSON,              /* a person: people never make an episode */
    SO_WHY_OTHER_KIND,          /* not this zone's kind of thing (a car in a bicycle zone) */
    SO_WHY_CLASS,               /* its class is not in the zone's `classes` */
    SO_WHY_SCORE,               /* its score is below the zone's `min_score` */
    SO_WHY_TOO_SMALL,           /* smaller than `min_box`, or than a vehicle's blob */
    SO_WHY_TOO_LARGE,           /* larger than `max_box` */
    SO_WHY_FOOTPRINT,           /* too little of its ground footprint is in the zone */
    SO_WHY_UPRIGHT,             /* a blob upright like a standing person */
    SO_WHY_NEEDS_CLASS,         /* unlabelled, and the zone has `require_class` */
    SO_WHY_SUSPENDED,           /* the camera is moved or tampered with: rules suspended */
    SO_WHY_SILENCED,            /* a dismissed thing, or a permit window (platform commands) */
    SO_WHY_COUNT_
};

struct so_cand_status {
    int box[4];                 /* x, y, w, h in analysis pixels */
    char cls[24];               /* class, "object" without a model, "unclassified" */
    double score;
    int track;                  /* tracker or blob id, -1 if none */
    double age_s;               /* at rest for this long (0 when moving) */
    bool counted;
    bool followed;              /* followed by the zone (has an episode slot) */
    enum so_status_why why;
    enum so_episode_state ep_state;   /* of its own episode (vehicle kinds); CANDIDATE if none */
    char ep_id[33];             /* "" when none */
    bool warned;                /* a candidate whose warning (warn_s) went out */
};

struct so_zone_status {
    char id[64];
    enum so_zone_kind kind;
    bool enforced;              /* schedule active now */
    double dwell_s, min_occupancy;
    double occupancy;           /* per-zone kinds: share at rest now; -1 for vehicle kinds */
    double age_s;               /* per-zone kinds: how long that share has rested, else 0 */
    enum so_episode_state ep_state;   /* per-zone kinds' episode */
    char ep_id[33];
    bool warned;                /* ... a candidate whose warning (warn_s) went out */
    struct so_cand_status cands[SO_STATUS_MAX_CANDS];
    int n_cands;
    int n_more;                 /* candidates left out (the table was full) */
};

struct so_rules_status {
    double media_s, wall_s;     /* of the frame it describes; 0 before any */
    bool suspended;             /* the frame was not analysed (camera moved / tampered) */
    struct so_zone_status *zones;
    size_t n_zones;
};

/* The name of a reason ("counts", "not_enforced", ...), stable for scripts. */
const char *so_status_why_name(enum so_status_why why);

/* The episode state as a word: "none" (nothing seen), "candidate", "open", "cleared". */
const char *so_status_episode_name(enum so_episode_state state, const char *ep_id);

/* The same, "warned" for a candidate whose warning went out. */
static inline const char *so_status_episode_name_warned(enum so_episode_state state,
                                                        const char *ep_id, bool warned)
{
    return warned && state == SO_EPISODE_CANDIDATE ? "warned"
                                                   : so_status_episode_name(state, ep_id);
}

/* The status of the last frame so_rules_process() saw (zones empty before one); borrowed until
 * the next call on the rules. NULL for NULL. Analysis thread. */
struct so_rules;
const struct so_rules_status *so_rules_status(const struct so_rules *r);

/* A malloc()ed copy of `s` (NULL for NULL; aborts when out of memory). */
struct so_rules_status *so_rules_status_copy(const struct so_rules_status *s);

void so_rules_status_destroy(struct so_rules_status *s);

#endif
