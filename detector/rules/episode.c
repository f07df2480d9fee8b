/*
 * Why this file exists: every rule (per zone, per vehicle) shares one notion of a violation's
 * life, and the platform depends on its timing (ARCHITECTURE, Episodes). Keeping it in one
 * small pure function makes it table-testable without video.
 *
 * Candidate start: while a candidate is present its start is the estimate given (the rule
 * knows when pixels or a track came to rest). A candidate that goes absent is forgotten: a
 * drop-off shorter than dwell never fires. An open episode survives short absences (clear_s);
 * when it clears, the end is when the absence began, not when it was confirmed.
 *
 * Warnings (warn_s, issue 16) live here too, so that every rule gets them the same way: a
 * zone's coverage and each vehicle both step through so_episode_observe. A warning is told
 * to people (a loudspeaker, an SMS), so it must not flap: a warned candidate seen absent for a
 * frame is forgotten as a candidate, exactly as without warn_s (when episodes open never
 * depends on warn_s), but its warning, its id and its start are kept until the place has been
 * empty clear_s; back before then, it is the same warning and, if it opens, the same episode.
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
        .warned_s = -1,
        .warned_start_s = -1,
        .warn_gone_s = -1,
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

/* The episode (or its warning) ends at `end`: `a` is what to publish. */
static enum so_episode_action end_at(struct so_episode *e, double end, enum so_episode_action a)
{
    if (a == SO_EPISODE_WARNING_CLEARED && e->warned_start_s < e->start_s) {
        e->start_s = e->warned_start_s;     /* what was warned of, not what came after it */
    }
    e->state = SO_EPISODE_CLEARED;
    e->end_s = end < e->start_s ? e->start_s : end;
    return a;
}

/* Seen absent now: *since (when it went; -1: it was there) becomes the end estimate the first
 * time, never before the start. Whether it has now been gone clear_s. */
static bool gone_clear_s(const struct so_episode *e, const struct so_episode_params *p,
                         double now, double end_estimate, double *since)
{
    if (*since < 0) {
        *since = end_estimate < now ? end_estimate : now;
        if (*since < e->start_s) {
            *since = e->start_s;
        }
    }
    return now - *since >= p->clear_s - 1e-9;
}

/* A candidate seen: it opens after dwell_s, is warned after warn_s (enforced only). */
static enum so_episode_action candidate_present(struct so_episode *e,
                                                const struct so_episode_params *p, double now,
                                                double start_estimate, bool enforced)
{
    if (e->start_s < 0 && e->warned_s < 0) {
        so_random_id(e->id);
    }
    e->warn_gone_s = -1;
    e->start_s = start_estimate > now ? now : start_estimate;
    if (enforced && now - e->start_s >= p->dwell_s - 1e-9) {
        e->state = SO_EPISODE_OPEN;
        e->confirmed_s = now;
        e->last_report_s = now;
        e->absent_since_s = -1;
        return SO_EPISODE_OPENED;
    }
    if (enforced && p->warn_s > 0 && e->warned_s < 0 && now - e->start_s >= p->warn_s - 1e-9) {
        e->warned_s = now;
        e->warned_start_s = e->start_s;
        return SO_EPISODE_WARNING;
    }
    return SO_EPISODE_NONE;
}

/* A candidate seen absent: forgotten; a warned one's warning ends after clear_s of it. */
static enum so_episode_action candidate_absent(struct so_episode *e,
                                               const struct so_episode_params *p, double now,
                                               double end_estimate)
{
    if (e->warned_s < 0) {
        if (e->start_s >= 0) {
            so_episode_init(e);
        }
        return SO_EPISODE_NONE;
    }
    return gone_clear_s(e, p, now, end_estimate, &e->warn_gone_s)
               ? end_at(e, e->warn_gone_s, SO_EPISODE_WARNING_CLEARED)
               : SO_EPISODE_NONE;
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
        return present ? candidate_present(e, p, now, start_estimate, enforced)
                       : candidate_absent(e, p, now, end_estimate);
    case SO_EPISODE_OPEN:
        if (present) {
            e->absent_since_s = -1;
            if (p->report_interval_s > 0 && now - e->last_report_s >= p->report_interval_s) {
                e->last_report_s = now;
                return SO_EPISODE_UPDATE;
            }
            return SO_EPISODE_NONE;
        }
        return gone_clear_s(e, p, now, end_estimate, &e->absent_since_s)
                   ? end_at(e, e->absent_since_s, SO_EPISODE_CLEARED_NOW)
                   : SO_EPISODE_NONE;
    case SO_EPISODE_CLEARED:
        break;
    }
    return SO_EPISODE_NONE;
}

void so_episode_withdraw_warning(struct so_episode *e)
{
    if (e->state == SO_EPISODE_CANDIDATE) {
        e->warned_s = e->warned_start_s = -1;
    }
}

enum so_episode_action so_episode_force_clear(struct so_episode *e, double now)
{
    if (e->state == SO_EPISODE_CANDIDATE && e->warned_s >= 0) {
        return end_at(e, e->warn_gone_s >= 0 ? e->warn_gone_s : now,
                      SO_EPISODE_WARNING_CLEARED);
    }
    if (e->state != SO_EPISODE_OPEN) {
        return SO_EPISODE_NONE;
    }
    return end_at(e, e->absent_since_s >= 0 ? e->absent_since_s : now, SO_EPISODE_CLEARED_NOW);
}
