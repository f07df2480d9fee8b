/*
 * What both HTTP servers (the detector's console, http.c, and the intake's case desk) do the
 * same way with libmicrohttpd: bind the listening socket themselves (so a bad address or a
 * port in use is reported with its real errno), warn when an unguarded one is not loopback, and
 * queue the answers they share: a buffer with a type, a plain text, a self-contained HTML page
 * under a policy that loads nothing from elsewhere, the 401 with its Basic challenge, a 405
 * naming the methods allowed.
 *
 * Thread-safety: none of these keep state; the reply functions run on whatever thread MHD calls
 * the handler on. Errors: the listen functions log (tag "http") and return -1; the reply
 * functions return MHD_NO when MHD could not queue the answer.
 */
#ifndef SO_HTTP_RESPOND_H
#define SO_HTTP_RESPOND_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* Resolve "HOST:PORT" ("[v6]:PORT" too; an empty HOST is every address), bind and listen.
 * Returns the socket (the caller owns it) and sets *ipv6, or -1 after logging why. With
 * `unguarded` (no users file: what a stranger could do, "sees the camera images"), a socket
 * that is not loopback only is logged as a warning saying so. */
int so_http_listen_socket(const char *listen_at, bool *ipv6, const char *unguarded);

/* Queue `body` with `type` and no-store caching. `mode` says who frees `body` (with
 * MHD_RESPMEM_MUST_FREE it is freed even on failure). */
enum MHD_Result so_http_reply(struct MHD_Connection *conn, unsigned int status, const char *type,
                              void *body, size_t len, enum MHD_ResponseMemoryMode mode);

/* A static text/plain message. */
enum MHD_Result so_http_text(struct MHD_Connection *conn, unsigned int status, const char *msg);

/* A malloc()ed JSON document (freed here), 200 unless `status` says otherwise. */
enum MHD_Result so_http_json(struct MHD_Connection *conn, unsigned int status, char *body,
                             size_t len);

/* A static self-contained page (inline script and style) with a Content-Security-Policy that
 * lets it load nothing but from this server. */
enum MHD_Result so_http_html(struct MHD_Connection *conn, const char *body, size_t len);

/* 401 with the Basic challenge a browser answers by asking for a name and a password. */
enum MHD_Result so_http_challenge(struct MHD_Connection *conn);

/* 405 with an Allow header listing `allow` ("GET, HEAD"). */
enum MHD_Result so_http_not_allowed(struct MHD_Connection *conn, const char *allow);

#endif
