/*
 * The episode state machine of ARCHITECTURE's "Episodes (contract)":
 *   candidate --(present for dwell_s, inside the schedule)--> opened
 *   opened --(every report_interval_s while present)--> update
 *   opened --(absent for clear_s)--> cleared (end = when it became absent)
 * and, when the zone has a warn_s (0 < warn_s < dwell_s), a warning before it files:
 *   candidate --(present for warn_s, inside the schedule)--> warning (still a candidate)
 *   warned candidate --(absent for clear_s before it opened)--> warning_cleared (no case)
 *   warned candidate --(present for dwell_s)--> opened (same id; no warning_cleared)
 * A small value type, embedded in whatever owns the episode (a zone, a tracked object).
 * Not thread-safe; no allocation.
 */
#ifndef SO_RULES_EPISODE_H
#define SO_RULES_EPISODE_H

#include <stdbool.h>

enum so_episode_state {
    SO_EPISODE_CANDIDATE = 0,   /* seen, not yet confirmed (start_s < 0: nothing seen) */
    SO_EPISODE_OPEN,
    SO_EPISODE_CLEARED,
};

enum so_episode_action {
    SO_EPISODE_NONE = 0,
    SO_EPISODE_OPENED,
    SO_EPISODE_UPDATE,
    SO_EPISODE_CLEARED_NOW,
    SO_EPISODE_WARNING,         /* a candidate at rest for warn_s: warn before filing */
    SO_EPISODE_WARNING_CLEARED, /* a warned candidate gone before it opened: no case */
    SO_EPISODE_VERIFIED,        /* not a step: a report of what a `verify` command saw */
};

/* The episode (or its warning) has ended: its owner reports it, then forgets it. */
static inline bool so_episode_ended(enum so_episode_action a)
{
    return a == SO_EPISODE_CLEARED_NOW || a == SO_EPISODE_WARNING_CLEARED;
}

struct so_episode_params {
    double dwell_s;
    double report_interval_s;   /* 0 = no updates */
    double clear_s;
    double warn_s;              /* 0 = no warning; else below dwell_s */
};

struct so_episode {
    char id[33];                /* 32 hex digits, assigned when the candidate starts */
    enum so_episode_state state;
    double start_s;             /* media time the violation began (-1: no candidate) */
    double confirmed_s;         /* media time opened was decided (-1 before) */
    double absent_since_s;      /* media time it was last seen absent from (-1: present) */
    double last_report_s;       /* media time of the last opened/update */
    double end_s;               /* media time it ended (-1 before cleared) */
    double warned_s;            /* media time the warning went out (-1: none) */
    double warned_start_s;      /* start_s when it went out */
    double warn_gone_s;         /* a warned candidate seen gone since (-1: not) */
};

/* Reset to "nothing seen". */
void so_episode_init(struct so_episode *e);

/*
 * Advance by one observation at media time `now`. `present`: the object / zone occupation is
 * seen now; `start_estimate`: when it came to rest (the latest estimate is kept while it is still a
 * candidate); `end_estimate`: when it is thought to have gone (used the first
 * frame it is absent; pass `now` if unknown); `enforced`: the zone's schedule is active now
 * (only gates opening). Returns what to publish.
 */
enum so_episode_action so_episode_step(struct so_episode *e, const struct so_episode_params *p,
                                       double now, bool present, double start_estimate,
                                       double end_estimate, bool enforced);

/*
 * What one frame says about an object or a zone's occupation: seen there, seen gone (the place
 * looks empty again), or neither (hidden, not judged). rules/presence.c judges it.
 */
enum so_presence {
    SO_PRESENCE_UNKNOWN = 0,
    SO_PRESENCE_ABSENT,
    SO_PRESENCE_PRESENT,
};

/*
 * so_episode_step with a third answer: UNKNOWN neither confirms a candidate nor ends it, and
 * neither clears an open episode nor restarts the time it has been seen absent (an episode
 * clears only after clear_s in which every judged frame saw the place empty; its end is the
 * first of them, or `end_estimate`). Updates go on while an open episode is not seen absent.
 */
enum so_episode_action so_episode_observe(struct so_episode *e,
                                          const struct so_episode_params *p, double now,
                                          enum so_presence seen, double start_estimate,
                                          double end_estimate, bool enforced);

/*
 * The warning (issue 16): a candidate present for warn_s while enforced gets one WARNING,
 * unless it opens on that same observation (then only OPENED). A warned candidate that goes
 * absent is a candidate no more (it counts its dwell afresh when it comes back, as any
 * candidate), but its warning stays, with its id, until the place has been absent clear_s:
 * then WARNING_CLEARED (state cleared, end = when it went absent, start = the start of what was
 * warned of: a later estimate is of something else, like the ground it uncovered). Back before
 * that, it carries on under the same id and warning; when it opens, OPENED has warned_s set and
 * no WARNING_CLEARED follows. Without warn_s nothing of this changes when episodes open.
 */

/* Force an open episode to cleared at `now` (e.g. its zone was removed): returns
 * SO_EPISODE_CLEARED_NOW. A warned candidate ends its warning (end: when it was seen gone,
 * else `now`): SO_EPISODE_WARNING_CLEARED. Anything else: SO_EPISODE_NONE, unchanged. */
enum so_episode_action so_episode_force_clear(struct so_episode *e, double now);

/* Take back a WARNING just returned that its owner does not publish (another report already
 * warned of the same thing): as if never warned; it may be warned of again later. */
void so_episode_withdraw_warning(struct so_episode *e);

/* Fill `out` (33 bytes) with 32 random hex digits. */
void so_random_id(char out[33]);

#endif
