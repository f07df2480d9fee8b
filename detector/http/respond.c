/*
 * Why this file exists: the detector's console (http.c) and the intake's case desk
 * (intake/desk.c) are two libmicrohttpd servers with the same habits: they bind their own
 * listening socket (MHD would only say "failed" where errno says "address in use"), warn when it
 * is not loopback, serve self-contained pages under a strict policy, and answer 401 with a
 * Basic challenge. Written once here so the two cannot drift (a header forgotten on one side is
 * a hole).
 */
#include "respond.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define WHO "http"

enum MHD_Result so_http_reply(struct MHD_Connection *conn, unsigned int status, const char *type,
                              void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) {
            free(body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result so_http_text(struct MHD_Connection *conn, unsigned int status, const char *msg)
{
    return so_http_reply(conn, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
                         MHD_RESPMEM_PERSISTENT);
}

enum MHD_Result so_http_json(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len)
{
    return so_http_reply(conn, status, "application/json; charset=utf-8", body, len,
                         MHD_RESPMEM_MUST_FREE);
}

/* The headers every answer below shares are added by hand: the page and the challenge need
 * headers so_http_reply() does not know. */
static enum MHD_Result queue_with(struct MHD_Connection *conn, unsigned int status,
                                  const char *type, const char *body, size_t len,
                                  const char *name, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, name, value);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

enum MHD_Result so_http_html(struct MHD_Connection *conn, const char *body, size_t len)
{
    return queue_with(conn, MHD_HTTP_OK, "text/html; charset=utf-8", body, len,
                      "Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; "
                      "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                      "form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
}

enum MHD_Result so_http_challenge(struct MHD_Connection *conn)
{
    static const char msg[] = "credentials required\n";
    return queue_with(conn, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8", msg,
                      sizeof(msg) - 1, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                      "Basic realm=\"streetorder\", charset=\"UTF-8\"");
}

enum MHD_Result so_http_not_allowed(struct MHD_Connection *conn, const char *allow)
{
    static const char msg[] = "method not allowed\n";
    return queue_with(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", msg,
                      sizeof(msg) - 1, MHD_HTTP_HEADER_ALLOW, allow);
}

/* Whether the bound socket listens on a loopback address only. */
static bool is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return false;
    }
    if (ss.ss_family == AF_INET) {
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* Split "HOST:PORT" ("[v6]:PORT" too), resolve and bind a listening socket. -1 after logging. */
int so_http_listen_socket(const char *listen_at, bool *ipv6, const char *unguarded)
{
    char host[256];
    const char *colon = strrchr(listen_at, ':');
    if (!colon || (size_t)(colon - listen_at) >= sizeof(host)) {
        so_err(WHO, "listen address %s: expected HOST:PORT", listen_at);
        return -1;
    }
    size_t hlen = (size_t)(colon - listen_at);
    memcpy(host, listen_at, hlen);
    host[hlen] = 0;
    char *node = host;
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = 0;
        node = host + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*node ? node : NULL, colon + 1, &hints, &res);
    if (gai != 0) {
        so_err(WHO, "listen address %s: %s", listen_at, gai_strerror(gai));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            *ipv6 = ai->ai_family == AF_INET6;
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        so_err(WHO, "cannot listen on %s: %s", listen_at, strerror(err));
    } else if (unguarded && !is_loopback(fd)) {
        so_warn(WHO, "%s is not a loopback address and no users file is set: anyone who can "
                "reach it %s", listen_at, unguarded);
    }
    return fd;
}
