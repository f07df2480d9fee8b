/*
 * Why this file exists: every rule (per zone, per vehicle) shares one notion of a violation's
 * life, and the platform depends on its timing (ARCHITECTURE, Episodes). Keeping it in one
 * small pure function makes it table-testable without video.
 *
 * Candidate start: while a candidate is present its start is the estimate given (the rule
 * knows when pixels or a track came to rest). A candidate that goes absent is forgotten: a
 * drop-off shorter than dwell never fires. An open episode survives short absences (clear_s);
 * when it clears, the end is when the absence began, not when it was confirmed.
 */
#include "episode.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void so_episode_init(struct so_episode *e)
{
    *e = (struct so_episode){
        .state = SO_EPISODE_CANDIDATE,
        .start_s = -1,
        .confirmed_s = -1,
        .absent_since_s = -1,
        .last_report_s = -1,
        .end_s = -1,
    };
}

void so_random_id(char out[33])
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n <= 0) {
            /* getrandom cannot fail for 16 bytes once the pool is ready; fall back anyway */
            for (; got < sizeof(raw); got++) {
                raw[got] = (unsigned char)rand();
            }
            break;
        }
        got += (size_t)n;
    }
    for (int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
}

enum so_episode_action so_episode_step(struct so_episode *e, const struct so_episode_params *p,
                                       double now, bool present, double start_estimate,
                                       double end_estimate, bool enforced)
{
    return so_episode_observe(e, p, now, present ? SO_PRESENCE_PRESENT : SO_PRESENCE_ABSENT,
                              start_estimate, end_estimate, enforced);
}

enum so_episode_action so_episode_observe(struct so_episode *e,
                                          const struct so_episode_params *p, double now,
                                          enum so_presence seen, double start_estimate,
                                          double end_estimate, bool enforced)
{
    bool present = seen == SO_PRESENCE_PRESENT;
    if (seen == SO_PRESENCE_UNKNOWN) {
        if (e->state != SO_EPISODE_OPEN || e->absent_since_s >= 0) {
            return SO_EPISODE_NONE;     /* nothing decided on what was not seen */
        }
        present = true;                 /* open and not seen gone: it goes on (updates) */
    }
    switch (e->state) {
    case SO_EPISODE_CANDIDATE:
        if (!present) {
            if (e->start_s >= 0) {
                so_episode_init(e);
            }
            return SO_EPISODE_NONE;
        }
        if (e->start_s < 0) {
            so_random_id(e->id);
        }
        e->start_s = start_estimate > now ? now : start_estimate;
        if (enforced && now - e->start_s >= p->dwell_s - 1e-9) {
            e->state = SO_EPISODE_OPEN;
            e->confirmed_s = now;
            e->last_report_s = now;
            e->absent_since_s = -1;
            return SO_EPISODE_OPENED;
        }
        return SO_EPISODE_NONE;
    case SO_EPISODE_OPEN:
        if (present) {
            e->absent_since_s = -1;
            if (p->report_interval_s > 0 && now - e->last_report_s >= p->report_interval_s) {
                e->last_report_s = now;
                return SO_EPISODE_UPDATE;
            }
            return SO_EPISODE_NONE;
        }
        if (e->absent_since_s < 0) {
            e->absent_since_s = end_estimate < now ? end_estimate : now;
            if (e->absent_since_s < e->start_s) {
                e->absent_since_s = e->start_s;
            }
        }
        if (now - e->absent_since_s >= p->clear_s - 1e-9) {
            e->state = SO_EPISODE_CLEARED;
            e->end_s = e->absent_since_s;
            return SO_EPISODE_CLEARED_NOW;
        }
        return SO_EPISODE_NONE;
    case SO_EPISODE_CLEARED:
        break;
    }
    return SO_EPISODE_NONE;
}

enum so_episode_action so_episode_force_clear(struct so_episode *e, double now)
{
    if (e->state != SO_EPISODE_OPEN) {
        return SO_EPISODE_NONE;
    }
    e->state = SO_EPISODE_CLEARED;
    e->end_s = e->absent_since_s >= 0 ? e->absent_since_s : now;
    return SO_EPISODE_CLEARED_NOW;
}
