/*
 * The case desk (issue 16 item 2): the intake's HTTP server for a dispatch centre's operators
 * and a city's platform. Pages (the queue at /, a case at /cases/<episode_id>, statistics at
 * /stats) and the JSON API under them (/api/..., docs/desk.md) over the cases of cases.h.
 *
 * It runs inside the intake's one thread: libmicrohttpd without a thread of its own (epoll,
 * external event loop), so the intake polls so_desk_fd() beside its ROUTER socket and calls
 * so_desk_run() when it is readable or so_desk_timeout_ms() has passed. Every handler therefore
 * runs on the thread that owns the database and the ROUTER: an action writes its case and
 * command rows and asks the intake to send what is due (opts.flush) directly, with no hand-off.
 *
 * Access: with a users file (auth.h) every path but /healthz needs HTTP Basic credentials
 * (401, counted), reads need the viewer role and actions (POST) the operator role (403,
 * counted). Without one nothing is asked (keep the desk on 127.0.0.1 then). An action whose
 * Origin header names another site than the one it is sent to is refused (403): a browser that
 * holds an operator's Basic credentials sends them with any site's form too.
 *
 * Ownership: the options' pointers are borrowed and must outlive the desk. Thread-safety: all
 * calls from the intake's thread. so_desk_create() returns NULL after logging why.
 */
#ifndef SO_INTAKE_DESK_H
#define SO_INTAKE_DESK_H

#include <jansson.h>

#include "auth.h"
#include "cases.h"

struct so_desk_opts {
    const char *listen;                 /* "HOST:PORT" */
    struct so_cases *cases;
    struct so_auth *auth;               /* NULL: no credentials asked */
    void *ctx;                          /* for the callbacks */
    /* Send the commands that are due now (so_cases_commands_due with the ROUTER's sender). */
    void (*flush)(void *ctx);
    /* {"detectors": [{"detector_id", "connected", "last_seen"}]}: a new reference. */
    json_t *(*detectors)(void *ctx);
};

struct so_desk;

struct so_desk *so_desk_create(const struct so_desk_opts *opts);

/* The descriptor to poll for reading (libmicrohttpd's epoll set). */
int so_desk_fd(struct so_desk *d);

/* How long the caller may wait before calling so_desk_run() even without activity, capped at
 * `max_ms`. */
int so_desk_timeout_ms(struct so_desk *d, int max_ms);

/* Accept, read, answer: whatever is ready. Never blocks. */
void so_desk_run(struct so_desk *d);

/* Close every connection and free. Accepts NULL. */
void so_desk_destroy(struct so_desk *d);

/* The desk's pages (generated at build time from desk.html by embed.py). */
extern const char so_desk_html[];
extern const size_t so_desk_html_len;

#endif
