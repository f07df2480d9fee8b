/*
 * Unit tests for detector/rules/episode.c: the episode state machine of ARCHITECTURE
 * "Episodes (contract)". Each scenario is a table of observations (time, present,
 * start_estimate, end_estimate, enforced) with the action expected from so_episode_step and,
 * where given, the fields expected afterwards. The scenarios with a warn_s (issue 16) also give
 * the warned_s expected; every other scenario must never warn (warned_s stays -1).
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "episode.h"
#include "testlib.h"

#define SKIP (-1000.0)      /* field not checked at this step */
#define ANY_STATE (-1)

enum id_check {
    ID_ANY = 0,     /* not checked */
    ID_KEEP,        /* same id as after the previous step */
    ID_FRESH,       /* a valid id different from every id seen earlier in the scenario */
};

struct step {
    double t;
    bool present;
    double start_est;
    double end_est;
    bool enforced;
    enum so_episode_action action;
    int state;              /* enum so_episode_state, or ANY_STATE */
    double start_s;         /* SKIP or expected e->start_s */
    double confirmed_s;     /* SKIP or expected e->confirmed_s */
    double end_s;           /* SKIP or expected e->end_s */
    enum id_check id;
    double warned_s;        /* scenarios with warn_s: SKIP or expected e->warned_s */
};

struct scenario {
    const char *name;
    struct so_episode_params params;
    const struct step *steps;
    size_t n;
};

#define P true
#define A false
#define E true
#define NE false
#define NONE SO_EPISODE_NONE
#define OPENED SO_EPISODE_OPENED
#define UPDATE SO_EPISODE_UPDATE
#define CLEARED SO_EPISODE_CLEARED_NOW
#define WARNING SO_EPISODE_WARNING
#define WARN_CLR SO_EPISODE_WARNING_CLEARED
#define S_CAND SO_EPISODE_CANDIDATE
#define S_OPEN SO_EPISODE_OPEN
#define S_CLR SO_EPISODE_CLEARED
#define STEPS(arr) (arr), sizeof(arr) / sizeof((arr)[0])

/* Opens exactly when now - start >= dwell (dwell 10). */
static const struct step opens_at_dwell[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {5.0, P, 0.0, 5.0, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {9.8, P, 0.0, 9.8, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {10.0, P, 0.0, 10.0, E, OPENED, S_OPEN, 0.0, 10.0, -1, ID_KEEP},
    {10.2, P, 0.0, 10.2, E, NONE, S_OPEN, 0.0, 10.0, -1, ID_KEEP},
};

/* The start estimate may precede the first observation (it came to rest earlier). */
static const struct step opens_from_earlier_rest[] = {
    {100.0, P, 95.0, 100.0, E, NONE, S_CAND, 95.0, -1, -1, ID_FRESH},
    {104.8, P, 95.0, 104.8, E, NONE, S_CAND, 95.0, -1, -1, ID_KEEP},
    {105.0, P, 95.0, 105.0, E, OPENED, S_OPEN, 95.0, 105.0, -1, ID_KEEP},
};

/* While a candidate, the latest start estimate is kept; once open the start is frozen. */
static const struct step latest_estimate_kept[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {5.0, P, 3.0, 5.0, E, NONE, S_CAND, 3.0, -1, -1, ID_KEEP},
    {10.0, P, 3.0, 10.0, E, NONE, S_CAND, 3.0, -1, -1, ID_KEEP},
    {13.0, P, 3.0, 13.0, E, OPENED, S_OPEN, 3.0, 13.0, -1, ID_KEEP},
    {14.0, P, 8.0, 14.0, E, NONE, S_OPEN, 3.0, 13.0, -1, ID_KEEP},
};

/* A start estimate in the future is clamped to now. */
static const struct step future_estimate_clamped[] = {
    {2.0, P, 7.0, 2.0, E, NONE, S_CAND, 2.0, -1, -1, ID_FRESH},
    {12.0, P, 2.0, 12.0, E, OPENED, S_OPEN, 2.0, 12.0, -1, ID_KEEP},
};

/* A candidate that goes absent is forgotten; the re-appearance is a new episode. */
static const struct step candidate_reset[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {8.0, P, 0.0, 8.0, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {8.2, A, 0.0, 8.2, E, NONE, S_CAND, -1, -1, -1, ID_ANY},
    {9.0, A, 0.0, 9.0, E, NONE, S_CAND, -1, -1, -1, ID_ANY},
    {12.0, P, 12.0, 12.0, E, NONE, S_CAND, 12.0, -1, -1, ID_FRESH},
    /* would have opened at 10 with the old start: it must not */
    {15.0, P, 12.0, 15.0, E, NONE, S_CAND, 12.0, -1, -1, ID_KEEP},
    {21.8, P, 12.0, 21.8, E, NONE, S_CAND, 12.0, -1, -1, ID_KEEP},
    {22.0, P, 12.0, 22.0, E, OPENED, S_OPEN, 12.0, 22.0, -1, ID_KEEP},
};

/* A short absence (< clear_s) of an open episode does not clear it; a long one does. */
static const struct step short_absence[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {5.0, P, 0.0, 5.0, E, OPENED, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {8.0, A, 0.0, 7.5, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {12.0, A, 0.0, 12.0, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {17.4, A, 0.0, 17.4, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {18.0, P, 0.0, 18.0, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {20.0, A, 0.0, 20.0, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {29.8, A, 0.0, 29.8, E, NONE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {30.0, A, 0.0, 30.0, E, CLEARED, S_CLR, 0.0, 5.0, 20.0, ID_KEEP},
};

/* Absence >= clear_s clears; end = the end estimate given at the first absent frame. */
static const struct step clear_end_estimate[] = {
    {40.0, P, 30.0, 40.0, E, OPENED, S_OPEN, 30.0, 40.0, -1, ID_FRESH},
    {50.0, A, 30.0, 48.0, E, NONE, S_OPEN, 30.0, 40.0, -1, ID_KEEP},
    {55.0, A, 30.0, 54.0, E, NONE, S_OPEN, 30.0, 40.0, -1, ID_KEEP},
    {57.8, A, 30.0, 57.8, E, NONE, S_OPEN, 30.0, 40.0, -1, ID_KEEP},
    {58.0, A, 30.0, 58.0, E, CLEARED, S_CLR, 30.0, 40.0, 48.0, ID_KEEP},
    /* a cleared episode stays cleared and publishes nothing more */
    {60.0, P, 60.0, 60.0, E, NONE, S_CLR, 30.0, 40.0, 48.0, ID_KEEP},
    {200.0, A, 60.0, 200.0, E, NONE, S_CLR, 30.0, 40.0, 48.0, ID_KEEP},
};

/* clear_s = 0: the first absent frame clears, end = its end estimate. */
static const struct step clear_immediately[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {3.0, P, 0.0, 3.0, E, OPENED, S_OPEN, 0.0, 3.0, -1, ID_KEEP},
    {4.0, A, 0.0, 3.6, E, CLEARED, S_CLR, 0.0, 3.0, 3.6, ID_KEEP},
};

/* Updates every report_interval_s (10) while present, none while absent. */
static const struct step periodic_updates[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {5.0, P, 0.0, 5.0, E, OPENED, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {10.0, P, 0.0, 10.0, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {14.8, P, 0.0, 14.8, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {15.0, P, 0.0, 15.0, E, UPDATE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {20.0, P, 0.0, 20.0, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {25.0, P, 0.0, 25.0, E, UPDATE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {30.0, A, 0.0, 30.0, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {35.0, A, 0.0, 35.0, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {36.0, P, 0.0, 36.0, E, UPDATE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
    {40.0, P, 0.0, 40.0, E, NONE, S_OPEN, SKIP, SKIP, -1, ID_KEEP},
    {46.0, P, 0.0, 46.0, E, UPDATE, S_OPEN, 0.0, 5.0, -1, ID_KEEP},
};

/* Not enforced: never opens; opens as soon as enforced, with the original start. */
static const struct step not_enforced[] = {
    {0.0, P, 0.0, 0.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {10.0, P, 0.0, 10.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {30.0, P, 0.0, 30.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {300.0, P, 0.0, 300.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {300.2, P, 0.0, 300.2, E, OPENED, S_OPEN, 0.0, 300.2, -1, ID_KEEP},
    /* the schedule only gates opening: an open episode updates and clears outside it */
    {360.2, P, 0.0, 360.2, NE, UPDATE, S_OPEN, 0.0, 300.2, -1, ID_KEEP},
    {361.0, A, 0.0, 361.0, NE, NONE, S_OPEN, 0.0, 300.2, -1, ID_KEEP},
    {371.0, A, 0.0, 371.0, NE, CLEARED, S_CLR, 0.0, 300.2, 361.0, ID_KEEP},
};

/* Enforcement that starts before dwell is reached does not open early. */
static const struct step enforced_before_dwell[] = {
    {0.0, P, 0.0, 0.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_FRESH},
    {4.0, P, 0.0, 4.0, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {9.0, P, 0.0, 9.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_KEEP},
    {10.0, P, 0.0, 10.0, E, OPENED, S_OPEN, 0.0, 10.0, -1, ID_KEEP},
};


/*
 * Warnings (warn_s, issue 16). Params of these: dwell 10, no updates, clear 3, warn 4. The
 * last column is warned_s.
 */

/* Warned at warn_s, opens at dwell under the same id; its clearing is an ordinary one. */
static const struct step warn_then_open[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {3.8, P, 0.0, 3.8, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, -1},
    {4.0, P, 0.0, 4.0, E, WARNING, S_CAND, 0.0, -1, -1, ID_KEEP, 4.0},
    {4.2, P, 0.0, 4.2, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, 4.0},     /* once */
    {9.8, P, 0.0, 9.8, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, 4.0},
    {10.0, P, 0.0, 10.0, E, OPENED, S_OPEN, 0.0, 10.0, -1, ID_KEEP, 4.0},
    {11.0, A, 0.0, 11.0, E, NONE, S_OPEN, 0.0, 10.0, -1, ID_KEEP, 4.0},
    {14.0, A, 0.0, 14.0, E, CLEARED, S_CLR, 0.0, 10.0, 11.0, ID_KEEP, 4.0},
};

/* Warned, then gone before dwell: warning_cleared once the place was empty clear_s, end =
 * when it went (its end estimate); no case, and nothing more from the cleared episode. */
static const struct step warn_then_leave[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {5.0, P, 0.0, 5.0, E, WARNING, S_CAND, 0.0, -1, -1, ID_KEEP, 5.0},
    {6.0, A, 0.0, 5.6, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, 5.0},
    {8.5, A, 0.0, 8.5, E, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, 5.0},
    {8.6, A, 0.0, 8.6, E, WARN_CLR, S_CLR, 0.0, -1, 5.6, ID_KEEP, 5.0},
    {10.0, P, 0.0, 10.0, E, NONE, S_CLR, 0.0, -1, 5.6, ID_KEEP, 5.0},
    {20.0, A, 0.0, 20.0, E, NONE, S_CLR, 0.0, -1, 5.6, ID_KEEP, 5.0},
};

/* Warned, away for less than clear_s, back: the same warning and id, no second warning; its
 * dwell counts afresh from the new start, as any candidate's (see candidate_reset). */
static const struct step warn_short_absence[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {4.0, P, 0.0, 4.0, E, WARNING, S_CAND, 0.0, -1, -1, ID_KEEP, 4.0},
    {6.0, A, 0.0, 6.0, E, NONE, S_CAND, SKIP, -1, -1, ID_KEEP, 4.0},
    {7.0, P, 7.0, 7.0, E, NONE, S_CAND, 7.0, -1, -1, ID_KEEP, 4.0},
    {11.0, P, 7.0, 11.0, E, NONE, S_CAND, 7.0, -1, -1, ID_KEEP, 4.0},
    /* would have opened at 10 with the first start: it must not */
    {16.8, P, 7.0, 16.8, E, NONE, S_CAND, 7.0, -1, -1, ID_KEEP, 4.0},
    {17.0, P, 7.0, 17.0, E, OPENED, S_OPEN, 7.0, 17.0, -1, ID_KEEP, 4.0},
};

/* A later start estimate after the warning (the ground a car uncovered, at rest behind it):
 * the warning_cleared keeps the start of what was warned of. */
static const struct step warn_start_later[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {4.0, P, 0.0, 4.0, E, WARNING, S_CAND, 0.0, -1, -1, ID_KEEP, 4.0},
    {6.0, P, 5.5, 6.0, E, NONE, S_CAND, 5.5, -1, -1, ID_KEEP, 4.0},
    {7.0, A, 5.5, 6.5, E, NONE, S_CAND, 5.5, -1, -1, ID_KEEP, 4.0},
    {10.0, A, 5.5, 10.0, E, WARN_CLR, S_CLR, 0.0, -1, 6.5, ID_KEEP, 4.0},
};

/* Already at rest for dwell when first seen: it opens, with no warning before. */
static const struct step warn_skipped[] = {
    {100.0, P, 85.0, 100.0, E, OPENED, S_OPEN, 85.0, 100.0, -1, ID_FRESH, -1},
    {101.0, P, 85.0, 101.0, E, NONE, S_OPEN, 85.0, 100.0, -1, ID_KEEP, -1},
};

/* The schedule gates warnings as it gates opening: warned when enforcement starts, unless by
 * then the dwell is reached (then only opened). */
static const struct step warn_not_enforced[] = {
    {0.0, P, 0.0, 0.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {5.0, P, 0.0, 5.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_KEEP, -1},
    {6.0, P, 0.0, 6.0, E, WARNING, S_CAND, 0.0, -1, -1, ID_KEEP, 6.0},
    {10.0, P, 0.0, 10.0, E, OPENED, S_OPEN, 0.0, 10.0, -1, ID_KEEP, 6.0},
};
static const struct step warn_enforced_late[] = {
    {0.0, P, 0.0, 0.0, NE, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {12.0, P, 0.0, 12.0, E, OPENED, S_OPEN, 0.0, 12.0, -1, ID_KEEP, -1},
};

/* clear_s 0: the first absent frame ends the warning. A candidate gone before warn_s was
 * never warned of: forgotten, nothing published. */
static const struct step warn_clear_immediately[] = {
    {0.0, P, 0.0, 0.0, E, NONE, S_CAND, 0.0, -1, -1, ID_FRESH, -1},
    {3.0, A, 0.0, 3.0, E, NONE, S_CAND, -1, -1, -1, ID_ANY, -1},
    {4.0, P, 4.0, 4.0, E, NONE, S_CAND, 4.0, -1, -1, ID_FRESH, -1},
    {8.0, P, 4.0, 8.0, E, WARNING, S_CAND, 4.0, -1, -1, ID_KEEP, 8.0},
    {8.2, A, 4.0, 8.1, E, WARN_CLR, S_CLR, 4.0, -1, 8.1, ID_KEEP, 8.0},
};

static const struct scenario scenarios[] = {
    {"opens at dwell", {10, 60, 10}, STEPS(opens_at_dwell)},
    {"opens from earlier rest", {10, 60, 10}, STEPS(opens_from_earlier_rest)},
    {"latest estimate kept", {10, 60, 10}, STEPS(latest_estimate_kept)},
    {"future estimate clamped", {10, 60, 10}, STEPS(future_estimate_clamped)},
    {"candidate reset", {10, 60, 10}, STEPS(candidate_reset)},
    {"short absence", {5, 0, 10}, STEPS(short_absence)},
    {"clear end estimate", {10, 60, 10}, STEPS(clear_end_estimate)},
    {"clear immediately", {3, 60, 0}, STEPS(clear_immediately)},
    {"updates", {5, 10, 10}, STEPS(periodic_updates)},
    {"not enforced", {10, 60, 10}, STEPS(not_enforced)},
    {"enforced before dwell", {10, 60, 10}, STEPS(enforced_before_dwell)},
    {"warn then open", {10, 0, 3, 4}, STEPS(warn_then_open)},
    {"warn then leave", {10, 0, 3, 4}, STEPS(warn_then_leave)},
    {"warn short absence", {10, 0, 3, 4}, STEPS(warn_short_absence)},
    {"warn skipped", {10, 0, 3, 4}, STEPS(warn_skipped)},
    {"warn start later", {10, 0, 3, 4}, STEPS(warn_start_later)},
    {"warn not enforced", {10, 0, 3, 4}, STEPS(warn_not_enforced)},
    {"warn enforced late", {10, 0, 3, 4}, STEPS(warn_enforced_late)},
    {"warn clear immediately", {10, 0, 0, 4}, STEPS(warn_clear_immediately)},
};

static bool is_hex_id(const char *id)
{
    if (strlen(id) != 32) {
        return false;
    }
    for (int i = 0; i < 32; i++) {
        if (!isxdigit((unsigned char)id[i])) {
            return false;
        }
    }
    return true;
}

static const char *action_name(int a)
{
    switch (a) {
    case SO_EPISODE_NONE:
        return "none";
    case SO_EPISODE_OPENED:
        return "opened";
    case SO_EPISODE_UPDATE:
        return "update";
    case SO_EPISODE_CLEARED_NOW:
        return "cleared";
    case SO_EPISODE_WARNING:
        return "warning";
    case SO_EPISODE_WARNING_CLEARED:
        return "warning_cleared";
    default:
        return "?";
    }
}

static bool near(double a, double b)
{
    return a - b < 1e-6 && b - a < 1e-6;
}

static void run_scenario(const struct scenario *sc)
{
    struct so_episode e;
    so_episode_init(&e);
    char prev_id[33] = "";
    char seen[16][33];
    int n_seen = 0;
    for (size_t i = 0; i < sc->n; i++) {
        const struct step *s = &sc->steps[i];
        enum so_episode_action got = so_episode_step(&e, &sc->params, s->t, s->present,
                                                     s->start_est, s->end_est, s->enforced);
        bool ok = got == s->action;
        char why[256] = "";
        if (!ok) {
            snprintf(why, sizeof(why), " action %s, expected %s", action_name(got),
                     action_name(s->action));
        }
        if (s->state != ANY_STATE && (int)e.state != s->state) {
            ok = false;
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " state %d, expected %d",
                     (int)e.state, s->state);
        }
        const struct {
            const char *name;
            double got, want;
        } fields[] = {
            {"start_s", e.start_s, s->start_s},
            {"confirmed_s", e.confirmed_s, s->confirmed_s},
            {"end_s", e.end_s, s->end_s},
            {"warned_s", e.warned_s, sc->params.warn_s > 0 ? s->warned_s : -1},
        };
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            if (fields[f].want != SKIP && !near(fields[f].got, fields[f].want)) {
                ok = false;
                snprintf(why + strlen(why), sizeof(why) - strlen(why), " %s %g, expected %g",
                         fields[f].name, fields[f].got, fields[f].want);
            }
        }
        if (s->id == ID_KEEP && strcmp(e.id, prev_id) != 0) {
            ok = false;
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " id changed %s -> %s",
                     prev_id, e.id);
        } else if (s->id == ID_FRESH) {
            if (!is_hex_id(e.id)) {
                ok = false;
                snprintf(why + strlen(why), sizeof(why) - strlen(why), " bad id \"%s\"", e.id);
            }
            for (int k = 0; k < n_seen; k++) {
                if (strcmp(seen[k], e.id) == 0) {
                    ok = false;
                    snprintf(why + strlen(why), sizeof(why) - strlen(why),
                             " id %s reused", e.id);
                }
            }
            if (n_seen < 16) {
                memcpy(seen[n_seen++], e.id, 33);
            }
        }
        memcpy(prev_id, e.id, sizeof(prev_id));
        so_test_check(ok, __FILE__, __LINE__, "%s: step %zu t=%g %s ->%s%s", sc->name, i, s->t,
                      s->present ? "present" : "absent", ok ? " " : "",
                      ok ? action_name(got) : why);
    }
}

/* At 5 fps with accumulated media times (0.2 added 50 times is not exactly 10.0), a dwell of
 * 10 s must open on frame 50, not one frame late. */
static void test_accumulated_times(void)
{
    struct so_episode_params p = {10, 0, 10};
    struct so_episode e;
    so_episode_init(&e);
    double t = 0;
    int opened_at = -1;
    for (int i = 0; i <= 60; i++) {
        if (so_episode_step(&e, &p, t, true, 0.0, t, true) == SO_EPISODE_OPENED) {
            opened_at = i;
            break;
        }
        t += 0.2;
    }
    CHECK_INT(opened_at, 50);
}

/* report_interval_s = 0: opened once, then nothing for an hour of frames. */
static void test_no_updates(void)
{
    struct so_episode_params p = {5, 0, 10};
    struct so_episode e;
    so_episode_init(&e);
    int opened = 0, updates = 0, other = 0;
    for (int i = 0; i <= 3600 * 5; i++) {
        double t = i / 5.0;
        switch (so_episode_step(&e, &p, t, true, 0.0, t, true)) {
        case SO_EPISODE_OPENED:
            opened++;
            break;
        case SO_EPISODE_UPDATE:
            updates++;
            break;
        case SO_EPISODE_NONE:
            break;
        default:
            other++;
        }
    }
    CHECK_INT(opened, 1);
    CHECK_INT(updates, 0);
    CHECK_INT(other, 0);
    CHECK_INT(e.state, SO_EPISODE_OPEN);
}

/* report_interval_s = 60 over 10 minutes at 5 fps: one update a minute after opening. */
static void test_update_count(void)
{
    struct so_episode_params p = {5, 60, 10};
    struct so_episode e;
    so_episode_init(&e);
    int updates = 0;
    double first_update = -1, last_update = -1;
    for (int i = 0; i <= 605 * 5; i++) {
        double t = i / 5.0;
        if (so_episode_step(&e, &p, t, true, 0.0, t, true) == SO_EPISODE_UPDATE) {
            updates++;
            if (first_update < 0) {
                first_update = t;
            }
            last_update = t;
        }
    }
    CHECK_INT(updates, 10);
    CHECK_DBL(first_update, 65.0, 1e-6);
    CHECK_DBL(last_update, 605.0, 1e-6);
}

struct force_case {
    const char *name;
    int steps;              /* how far to drive before force_clear: see below */
    enum so_episode_action want;
    int state_after;
    double end_after;
};

/* force_clear: open (present), open (absent, not yet cleared), candidate, nothing seen,
 * already cleared. */
static void test_force_clear(void)
{
    static const struct force_case cases[] = {
        {"open present", 0, SO_EPISODE_CLEARED_NOW, SO_EPISODE_CLEARED, 20.0},
        {"open absent", 1, SO_EPISODE_CLEARED_NOW, SO_EPISODE_CLEARED, 15.0},
        {"candidate", 2, SO_EPISODE_NONE, SO_EPISODE_CANDIDATE, -1},
        {"nothing seen", 3, SO_EPISODE_NONE, SO_EPISODE_CANDIDATE, -1},
        {"already cleared", 4, SO_EPISODE_NONE, SO_EPISODE_CLEARED, 15.0},
        /* warn_s 2: a warned candidate's warning ends; end = when it was seen gone, else
         * the time given */
        {"warned candidate", 5, SO_EPISODE_WARNING_CLEARED, SO_EPISODE_CLEARED, 20.0},
        {"warned candidate gone", 6, SO_EPISODE_WARNING_CLEARED, SO_EPISODE_CLEARED, 19.5},
    };
    struct so_episode_params p = {5, 60, 10, 2};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct force_case *c = &cases[i];
        struct so_episode e;
        so_episode_init(&e);
        switch (c->steps) {
        case 0:     /* opened at 5, present until 20 */
            so_episode_step(&e, &p, 0, true, 0, 0, true);
            so_episode_step(&e, &p, 5, true, 0, 5, true);
            so_episode_step(&e, &p, 20, true, 0, 20, true);
            break;
        case 1:     /* opened at 5, absent since 15 (estimate), not yet cleared at 20 */
            so_episode_step(&e, &p, 0, true, 0, 0, true);
            so_episode_step(&e, &p, 5, true, 0, 5, true);
            so_episode_step(&e, &p, 16, false, 0, 15, true);
            so_episode_step(&e, &p, 20, false, 0, 20, true);
            break;
        case 2:     /* candidate since 18 */
            so_episode_step(&e, &p, 18, true, 18, 18, true);
            break;
        case 3:
            break;
        case 4:     /* cleared at 25 with end 15 */
            so_episode_step(&e, &p, 0, true, 0, 0, true);
            so_episode_step(&e, &p, 5, true, 0, 5, true);
            so_episode_step(&e, &p, 16, false, 0, 15, true);
            so_episode_step(&e, &p, 25, false, 0, 25, true);
            break;
        case 5:     /* candidate since 16, warned at 18 */
            so_episode_step(&e, &p, 16, true, 16, 16, true);
            so_episode_step(&e, &p, 18, true, 16, 18, true);
            break;
        case 6:     /* ... and seen gone from 19.5 */
            so_episode_step(&e, &p, 16, true, 16, 16, true);
            so_episode_step(&e, &p, 18, true, 16, 18, true);
            so_episode_step(&e, &p, 19.6, false, 16, 19.5, true);
            break;
        }
        char id_before[33];
        memcpy(id_before, e.id, sizeof(id_before));
        double start_before = e.start_s;
        enum so_episode_action got = so_episode_force_clear(&e, 20.0);
        so_test_check(got == c->want && (int)e.state == c->state_after &&
                          near(e.end_s, c->end_after) && strcmp(id_before, e.id) == 0 &&
                          near(start_before, e.start_s),
                      __FILE__, __LINE__,
                      "force_clear %s: action %s (want %s), state %d (want %d), end %g (want %g)",
                      c->name, action_name(got), action_name(c->want), (int)e.state,
                      c->state_after, e.end_s, c->end_after);
    }
}

/* A withdrawn warning (its owner saw the thing already warned of) is as if never given: the
 * next observation warns again, and an absence ends nothing. Each row: time, present, action. */
static void test_withdraw_warning(void)
{
    static const struct {
        double t;
        bool present, withdraw;
        enum so_episode_action action;
    } rows[] = {
        {0, true, false, SO_EPISODE_NONE},
        {4, true, true, SO_EPISODE_WARNING},    /* withdrawn */
        {4.2, true, false, SO_EPISODE_WARNING}, /* given again */
        {4.4, true, true, SO_EPISODE_NONE},     /* once */
        {5, true, true, SO_EPISODE_NONE},
    };
    struct so_episode_params p = {10, 0, 0, 4};
    struct so_episode e;
    so_episode_init(&e);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum so_episode_action a = so_episode_step(&e, &p, rows[i].t, rows[i].present, 0,
                                                   rows[i].t, true);
        so_test_check(a == rows[i].action, __FILE__, __LINE__, "withdraw: at %.1f s %s (want %s)",
                      rows[i].t, action_name(a), action_name(rows[i].action));
        if (rows[i].withdraw && a == SO_EPISODE_WARNING) {
            so_episode_withdraw_warning(&e);
        }
    }
    /* withdrawn, then gone: nothing to clear */
    so_episode_init(&e);
    so_episode_step(&e, &p, 0, true, 0, 0, true);
    so_episode_step(&e, &p, 4, true, 0, 4, true);
    so_episode_withdraw_warning(&e);
    CHECK_INT(so_episode_step(&e, &p, 5, false, 0, 5, true), SO_EPISODE_NONE);
    CHECK_INT(so_episode_force_clear(&e, 6), SO_EPISODE_NONE);
}

static void test_random_ids(void)
{
    char ids[64][33];
    bool all_hex = true, all_distinct = true;
    for (int i = 0; i < 64; i++) {
        so_random_id(ids[i]);
        all_hex = all_hex && is_hex_id(ids[i]);
        for (int k = 0; k < i; k++) {
            if (strcmp(ids[k], ids[i]) == 0) {
                all_distinct = false;
            }
        }
    }
    CHECK(all_hex);
    CHECK(all_distinct);

    /* two episodes (two zones) started at the same time get different ids */
    struct so_episode_params p = {5, 60, 10};
    struct so_episode a, b;
    so_episode_init(&a);
    so_episode_init(&b);
    so_episode_step(&a, &p, 1, true, 1, 1, true);
    so_episode_step(&b, &p, 1, true, 1, 1, true);
    CHECK(is_hex_id(a.id));
    CHECK(is_hex_id(b.id));
    CHECK(strcmp(a.id, b.id) != 0);
}

static void test_init(void)
{
    struct so_episode e;
    memset(&e, 0x5a, sizeof(e));
    so_episode_init(&e);
    CHECK_INT(e.state, SO_EPISODE_CANDIDATE);
    CHECK_DBL(e.start_s, -1, 0);
    CHECK_DBL(e.confirmed_s, -1, 0);
    CHECK_DBL(e.absent_since_s, -1, 0);
    CHECK_DBL(e.end_s, -1, 0);
    /* absent observations of nothing publish nothing and start nothing */
    struct so_episode_params p = {5, 60, 10};
    CHECK_INT(so_episode_step(&e, &p, 3, false, 3, 3, true), SO_EPISODE_NONE);
    CHECK_DBL(e.start_s, -1, 0);
}

/*
 * so_episode_observe: what was not seen decides nothing. Params: dwell 10 s, updates every 5 s,
 * clear after 4 s. Each row: time, presence, expected action, expected state.
 */
static void test_observe_unknown(void)
{
    static const struct {
        double t;
        enum so_presence seen;
        enum so_episode_action action;
        int state;
    } rows[] = {
        {0, SO_PRESENCE_PRESENT, SO_EPISODE_NONE, SO_EPISODE_CANDIDATE},
        {5, SO_PRESENCE_UNKNOWN, SO_EPISODE_NONE, SO_EPISODE_CANDIDATE},  /* no reset */
        {10, SO_PRESENCE_UNKNOWN, SO_EPISODE_NONE, SO_EPISODE_CANDIDATE}, /* no confirmation */
        {11, SO_PRESENCE_PRESENT, SO_EPISODE_OPENED, SO_EPISODE_OPEN},
        {16, SO_PRESENCE_UNKNOWN, SO_EPISODE_UPDATE, SO_EPISODE_OPEN},    /* hidden, goes on */
        {40, SO_PRESENCE_UNKNOWN, SO_EPISODE_UPDATE, SO_EPISODE_OPEN},    /* never clears */
        {41, SO_PRESENCE_ABSENT, SO_EPISODE_NONE, SO_EPISODE_OPEN},       /* gone from 41 */
        {43, SO_PRESENCE_UNKNOWN, SO_EPISODE_NONE, SO_EPISODE_OPEN},      /* keeps 41 */
        {44.5, SO_PRESENCE_UNKNOWN, SO_EPISODE_NONE, SO_EPISODE_OPEN},    /* clears on sight only */
        {45, SO_PRESENCE_ABSENT, SO_EPISODE_CLEARED_NOW, SO_EPISODE_CLEARED},
    };
    struct so_episode_params p = {10, 5, 4};
    struct so_episode e;
    so_episode_init(&e);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum so_episode_action a = so_episode_observe(&e, &p, rows[i].t, rows[i].seen, 0.0,
                                                      rows[i].t, true);
        so_test_check(a == rows[i].action && (int)e.state == rows[i].state, __FILE__, __LINE__,
                      "at %.1f s: action %d state %d, want %d %d", rows[i].t, a, e.state,
                      rows[i].action, rows[i].state);
    }
    so_test_check(e.end_s == 41, __FILE__, __LINE__, "ended when first seen gone: %.1f", e.end_s);

    /* A presence between absences starts the absence over. */
    so_episode_init(&e);
    so_episode_observe(&e, &p, 0, SO_PRESENCE_PRESENT, 0, 0, true);
    so_episode_observe(&e, &p, 10, SO_PRESENCE_PRESENT, 0, 10, true);
    so_episode_observe(&e, &p, 12, SO_PRESENCE_ABSENT, 0, 12, true);
    so_episode_observe(&e, &p, 14, SO_PRESENCE_PRESENT, 0, 14, true);
    enum so_episode_action a = so_episode_observe(&e, &p, 17, SO_PRESENCE_ABSENT, 0, 17, true);
    so_test_check(a == SO_EPISODE_NONE && e.state == SO_EPISODE_OPEN, __FILE__, __LINE__,
                  "seen again at 14 s: not cleared at 17 s");
}

int main(void)
{
    test_init();
    test_observe_unknown();
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        run_scenario(&scenarios[i]);
    }
    test_accumulated_times();
    test_no_updates();
    test_update_count();
    test_force_clear();
    test_withdraw_warning();
    test_random_ids();
    return so_test_done();
}
