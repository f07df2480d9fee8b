/*
 * The episode state machine of ARCHITECTURE's "Episodes (contract)":
 *   candidate --(present for dwell_s, inside the schedule)--> opened
 *   opened --(every report_interval_s while present)--> update
 *   opened --(absent for clear_s)--> cleared (end = when it became absent)
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
    SO_EPISODE_VERIFIED,        /* not a step: a report of what a `verify` command saw */
};

struct so_episode_params {
    double dwell_s;
    double report_interval_s;   /* 0 = no updates */
    double clear_s;
};

struct so_episode {
    char id[33];                /* 32 hex digits, assigned when the candidate starts */
    enum so_episode_state state;
    double start_s;             /* media time the violation began (-1: no candidate) */
    double confirmed_s;         /* media time opened was decided (-1 before) */
    double absent_since_s;      /* media time it was last seen absent from (-1: present) */
    double last_report_s;       /* media time of the last opened/update */
    double end_s;               /* media time it ended (-1 before cleared) */
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

/* Force an open episode to cleared at `now` (e.g. its zone was removed). Returns
 * SO_EPISODE_CLEARED_NOW if it was open, else SO_EPISODE_NONE. */
enum so_episode_action so_episode_force_clear(struct so_episode *e, double now);

/* Fill `out` (33 bytes) with 32 random hex digits. */
void so_random_id(char out[33]);

#endif
