/*
 * Why this file exists: the cases in the intake's database are worth nothing until a person
 * looks at them. This is the dispatch centre's desk: the queue, a case with every image and its
 * history, the actions (confirm, reject, verify, close) and the statistics, as pages and as a
 * JSON API a city's platform can drive the same way (docs/desk.md).
 *
 *   GET  /healthz                         "ok" (no credentials)
 *   GET  /, /cases/<episode_id>, /stats   the pages (desk.html; the script reads the path)
 *   GET  /api/cases?state=&category=&camera=&grid=&day=&limit=
 *   GET  /api/cases/<episode_id>          the case, its events and images, history, commands
 *   POST /api/cases/<episode_id>/<action> confirm | reject | verify | close; optional JSON body
 *                                         {"note", "reason", "until"}
 *   GET  /api/commands/<id>               a command and the detector's answer
 *   GET  /api/stats?(the same filters)    by state, zone, category and hour of day
 *   GET  /api/detectors                   the detectors the intake has heard from
 *   GET  /api/images/<event_id>/<idx>     an evidence JPEG
 *   GET  /metrics                         the desk's counters (Prometheus text)
 *
 * Design:
 * - libmicrohttpd in the intake's own thread (external epoll loop; see desk.h). The handlers
 *   are short (one SQLite transaction, a few queries) and the database is local, so a request
 *   never waits on anything slow, and the ROUTER socket keeps its single owner. An action that
 *   sends a command returns at once: 200 when the command went out, 202 with an "error" when
 *   the detector is not connected and the command is kept pending (the page shows both; the
 *   detector's answer and any verification record arrive later and are polled for).
 * - The access check comes first, before the method and the path are looked at (auth.c, the
 *   same users file format and roles as the detector's pages): GET needs a viewer, POST an
 *   operator. The operator's user name goes into the case's history; the password never
 *   leaves the auth module.
 * - POST bodies are small JSON objects (at most 8 KiB; more is 413).
 * - Cross-site requests: a browser sends an operator's cached Basic credentials with a form
 *   another site posts here, so an action whose Origin header is not this desk's own address
 *   (the Host it was sent to) is refused with 403. Browsers always send Origin on a POST;
 *   curl and platforms send none and are not affected.
 */
#include "desk.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "respond.h"
#include "xalloc.h"

#define WHO "desk"
#define MAX_BODY 8192

struct so_desk {
    struct MHD_Daemon *mhd;
    struct so_desk_opts o;
    unsigned long long unauthorized, forbidden, actions;
};

/* One request's state between MHD's calls: its body as it arrives. */
struct request {
    bool gated;
    bool too_big;
    char body[MAX_BODY + 1];
    size_t len;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = 0;
    so_warn(WHO, "%s", msg);
}

static enum MHD_Result json_doc(struct MHD_Connection *conn, unsigned int status, json_t *doc)
{
    if (!doc) {
        return so_http_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "database error (logged)\n");
    }
    size_t len = 0;
    char *body = so_http_json_dump(doc, &len);
    return so_http_json(conn, status, body, len);
}

static enum MHD_Result json_error(struct MHD_Connection *conn, unsigned int status,
                                  const char *msg)
{
    return json_doc(conn, status, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* A path segment that is an id: 1..64 of [0-9A-Za-z._-]. */
static bool is_id(const char *s, size_t n)
{
    return n > 0 && n <= 64 &&
           strspn(s, "0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz._-") >= n;
}

static void read_filter(struct MHD_Connection *conn, struct so_case_filter *f)
{
    const char **fields[] = {&f->state, &f->category, &f->camera, &f->grid, &f->day};
    static const char *const names[] = {"state", "category", "camera", "grid", "day"};
    for (int i = 0; i < 5; i++) {
        *fields[i] = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, names[i]);
    }
    const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    f->limit = limit ? atoi(limit) : 0;
    if (f->limit > 1000) {
        f->limit = 1000;
    }
}

/* POST /api/cases/<id>/<action>. */
static enum MHD_Result act(struct so_desk *d, struct MHD_Connection *conn, const char *episode,
                           const char *action, struct request *rq)
{
    enum so_case_action a;
    if (!so_case_action_parse(action, &a) || a == SO_CASE_AUTO_CLOSE) {
        return json_error(conn, MHD_HTTP_NOT_FOUND,
                          "unknown action: expected confirm, reject, verify or close");
    }
    json_t *args = NULL;
    if (rq->len) {
        json_error_t jerr;
        args = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(args)) {
            json_decref(args);
            return json_error(conn, MHD_HTTP_BAD_REQUEST, "body: expected a JSON object");
        }
    }
    char *user = MHD_basic_auth_get_username_password(conn, NULL);
    struct so_case_result res;
    int rc = so_cases_act(d->o.cases, episode, a, user && d->o.auth ? user : "desk", args, &res);
    MHD_free(user);
    json_decref(args);
    if (rc < 0) {
        unsigned int status = rc == -ENOENT ? MHD_HTTP_NOT_FOUND
                              : rc == -EPERM ? MHD_HTTP_CONFLICT
                              : rc == -EINVAL ? MHD_HTTP_BAD_REQUEST
                                              : MHD_HTTP_INTERNAL_SERVER_ERROR;
        return json_error(conn, status, res.err);
    }
    d->actions++;
    unsigned int status = MHD_HTTP_OK;
    json_t *out = json_pack("{s:b}", "ok", 1);
    if (res.command_id[0]) {
        d->o.flush(d->o.ctx);
        bool missing;
        json_t *cmd = so_cases_command(d->o.cases, res.command_id, &missing);
        const char *det = json_string_value(json_object_get(cmd, "detector_id"));
        if (cmd && strcmp(json_string_value(json_object_get(cmd, "status")), "pending") == 0) {
            char *msg = so_xprintf("detector %s is not connected: the %s command is kept and "
                                   "sent when it delivers again", det,
                                   json_string_value(json_object_get(cmd, "command")));
            json_object_set_new(out, "error", json_string(msg));
            free(msg);
            status = MHD_HTTP_ACCEPTED;
        }
        json_object_set_new(out, "command", cmd ? cmd : json_null());
    }
    bool missing;
    json_t *cs = so_cases_get(d->o.cases, episode, &missing);
    json_object_set_new(out, "case", cs ? cs : json_null());
    return json_doc(conn, status, out);
}

static enum MHD_Result image(struct so_desk *d, struct MHD_Connection *conn, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char *end = NULL;
    long idx = slash ? strtol(slash + 1, &end, 10) : -1;
    if (!slash || !is_id(rest, (size_t)(slash - rest)) || end == slash + 1 || *end || idx < 0 ||
        idx > 64) {
        return so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    char event_id[65];
    snprintf(event_id, sizeof(event_id), "%.*s", (int)(slash - rest), rest);
    void *jpeg = NULL;
    size_t size = 0;
    int rc = so_cases_image(d->o.cases, event_id, (int)idx, &jpeg, &size);
    if (rc < 0) {
        return so_http_text(conn, rc == -ENOENT ? MHD_HTTP_NOT_FOUND
                                                : MHD_HTTP_INTERNAL_SERVER_ERROR,
                            rc == -ENOENT ? "no such image\n" : "database error (logged)\n");
    }
    return so_http_reply(conn, MHD_HTTP_OK, "image/jpeg", jpeg, size, MHD_RESPMEM_MUST_FREE);
}

/* /api/cases/<id> and /api/cases/<id>/<action>. */
static enum MHD_Result case_api(struct so_desk *d, struct MHD_Connection *conn, bool post,
                                const char *rest, struct request *rq)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!is_id(rest, n) || (post != (slash != NULL))) {
        return post ? json_error(conn, MHD_HTTP_NOT_FOUND, "expected /api/cases/<id>/<action>")
                    : so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    char episode[65];
    snprintf(episode, sizeof(episode), "%.*s", (int)n, rest);
    if (post) {
        return act(d, conn, episode, slash + 1, rq);
    }
    bool missing = false;
    json_t *cs = so_cases_get(d->o.cases, episode, &missing);
    return missing ? json_error(conn, MHD_HTTP_NOT_FOUND, "no such case")
                   : json_doc(conn, MHD_HTTP_OK, cs);
}

static enum MHD_Result metrics(struct so_desk *d, struct MHD_Connection *conn)
{
    json_t *st = so_cases_stats(d->o.cases, NULL);
    char *cases = so_xprintf("%s", "");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(st, "by_state"), k, v) {
        char *more = so_xprintf("%sstreetorder_desk_cases{state=\"%s\"} %lld\n", cases, k,
                                (long long)json_integer_value(v));
        free(cases);
        cases = more;
    }
    json_decref(st);
    char *all = so_xprintf(
        "# HELP streetorder_desk_cases Cases in the desk's database, by state.\n"
        "# TYPE streetorder_desk_cases gauge\n%s"
        "# HELP streetorder_desk_actions_total Operators' actions carried out.\n"
        "# TYPE streetorder_desk_actions_total counter\n"
        "streetorder_desk_actions_total %llu\n"
        "# HELP streetorder_http_unauthorized_total Requests answered 401: no or bad "
        "credentials.\n"
        "# TYPE streetorder_http_unauthorized_total counter\n"
        "streetorder_http_unauthorized_total %llu\n"
        "# HELP streetorder_http_forbidden_total Requests answered 403: a viewer asking for an "
        "operator's action.\n"
        "# TYPE streetorder_http_forbidden_total counter\n"
        "streetorder_http_forbidden_total %llu\n",
        cases, d->actions, d->unauthorized, d->forbidden);
    free(cases);
    return so_http_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", all,
                         strlen(all), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result get(struct so_desk *d, struct MHD_Connection *conn, const char *url)
{
    static const char cases[] = "/api/cases/", images[] = "/api/images/",
                      commands[] = "/api/commands/", page[] = "/cases/";
    if (strcmp(url, "/healthz") == 0) {
        return so_http_text(conn, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/stats") == 0 ||
        (strncmp(url, page, sizeof(page) - 1) == 0 &&
         is_id(url + sizeof(page) - 1, strlen(url + sizeof(page) - 1)))) {
        return so_http_html(conn, so_desk_html, so_desk_html_len);
    }
    struct so_case_filter f = {0};
    if (strcmp(url, "/api/cases") == 0) {
        read_filter(conn, &f);
        return json_doc(conn, MHD_HTTP_OK, so_cases_list(d->o.cases, &f));
    }
    if (strcmp(url, "/api/stats") == 0) {
        read_filter(conn, &f);
        return json_doc(conn, MHD_HTTP_OK, so_cases_stats(d->o.cases, &f));
    }
    if (strcmp(url, "/api/detectors") == 0) {
        return json_doc(conn, MHD_HTTP_OK, d->o.detectors(d->o.ctx));
    }
    if (strcmp(url, "/metrics") == 0) {
        return metrics(d, conn);
    }
    if (strncmp(url, cases, sizeof(cases) - 1) == 0) {
        return case_api(d, conn, false, url + sizeof(cases) - 1, NULL);
    }
    if (strncmp(url, images, sizeof(images) - 1) == 0) {
        return image(d, conn, url + sizeof(images) - 1);
    }
    if (strncmp(url, commands, sizeof(commands) - 1) == 0) {
        const char *id = url + sizeof(commands) - 1;
        bool missing = false;
        json_t *cmd = is_id(id, strlen(id)) ? so_cases_command(d->o.cases, id, &missing) : NULL;
        return missing || !is_id(id, strlen(id))
                   ? json_error(conn, MHD_HTTP_NOT_FOUND, "no such command")
                   : json_doc(conn, MHD_HTTP_OK, cmd);
    }
    return so_http_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* The access check (before anything else): MHD_YES with *done false when the request may go
 * on, otherwise the 401/403 is queued. */
static enum MHD_Result gate(struct so_desk *d, struct MHD_Connection *conn, const char *url,
                            bool post, bool *done)
{
    *done = false;
    enum so_auth_role need = strcmp(url, "/healthz") == 0 ? SO_AUTH_NONE
                             : post                        ? SO_AUTH_OPERATOR
                                                           : SO_AUTH_VIEWER;
    if (!d->o.auth || need == SO_AUTH_NONE) {
        return MHD_YES;
    }
    const char *authz =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    switch (so_auth_decide(need, so_auth_check(d->o.auth, authz))) {
    case SO_AUTH_ALLOW:
        return MHD_YES;
    case SO_AUTH_UNAUTHORIZED:
        *done = true;
        d->unauthorized++;
        return so_http_challenge(conn);
    default:
        *done = true;
        d->forbidden++;
        return so_http_text(conn, MHD_HTTP_FORBIDDEN, "this needs the operator role\n");
    }
}

/* Whether the request's Origin (when there is one) names the host it was sent to. */
static bool same_origin(struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!origin) {
        return true;
    }
    const char *sep = strstr(origin, "://");
    return sep && host && strcmp(sep + 3, host) == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version;
    struct so_desk *d = cls;
    struct request *rq = *req_cls;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!rq) {
        rq = *req_cls = so_xcalloc(1, sizeof(*rq));
        bool done = false;
        enum MHD_Result rc = gate(d, conn, url, post, &done);
        if (done || rc != MHD_YES) {
            return rc;
        }
        rq->gated = true;
        return MHD_YES;
    }
    if (!rq->gated) {
        return MHD_YES;     /* answered by the gate; MHD drains the body */
    }
    if (*upload_size) {
        if (rq->len + *upload_size > MAX_BODY) {
            rq->too_big = true;
        } else {
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    static const char cases[] = "/api/cases/";
    if (post) {
        if (!same_origin(conn)) {
            d->forbidden++;
            return json_error(conn, MHD_HTTP_FORBIDDEN, "cross-site request refused: the "
                              "Origin is not this desk");
        }
        if (rq->too_big) {
            return json_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body: at most 8 KiB");
        }
        if (strncmp(url, cases, sizeof(cases) - 1) != 0) {
            return json_error(conn, MHD_HTTP_NOT_FOUND, "expected /api/cases/<id>/<action>");
        }
        return case_api(d, conn, true, url + sizeof(cases) - 1, rq);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return so_http_not_allowed(conn, "GET, HEAD, POST");
    }
    return get(d, conn, url);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

struct so_desk *so_desk_create(const struct so_desk_opts *opts)
{
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
        so_err(WHO, "this libmicrohttpd has no epoll support, which the desk needs");
        return NULL;
    }
    bool ipv6 = false;
    int fd = so_http_listen_socket(opts->listen, &ipv6,
                                   opts->auth ? NULL : "sees the cases and may act on them "
                                                       "(--users)");
    if (fd < 0) {
        return NULL;
    }
    struct so_desk *d = so_xcalloc(1, sizeof(*d));
    d->o = *opts;
    d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0), 0,
                              NULL, NULL, handle, d,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, (void *)NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                              MHD_OPTION_END);
    if (!d->mhd) {
        so_err(WHO, "cannot start the desk's HTTP server on %s", opts->listen);
        close(fd);
        free(d);
        return NULL;
    }
    so_info(WHO, "the case desk is on http://%s/ (%s)", opts->listen,
            opts->auth ? "users file: viewer and operator roles" : "no credentials asked");
    return d;
}

int so_desk_fd(struct so_desk *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int so_desk_timeout_ms(struct so_desk *d, int max_ms)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (MHD_get_timeout(d->mhd, &t) != MHD_YES || t > (MHD_UNSIGNED_LONG_LONG)max_ms) {
        return max_ms;
    }
    return (int)t;
}

void so_desk_run(struct so_desk *d)
{
    MHD_run(d->mhd);
}

void so_desk_destroy(struct so_desk *d)
{
    if (!d) {
        return;
    }
    MHD_stop_daemon(d->mhd);
    free(d);
}
