/*
 * Who may ask what of an HTTP server: the users file named by `http.auth`, HTTP Basic
 * credentials checked against it, and the role they grant. Pure (no server, no I/O but reading
 * the file), so the detector's server (http.c) and the intake's case desk can share it.
 *
 * The users file (docs/http.md): one user per line, "NAME ROLE HASH", fields separated by
 * spaces or tabs; '#' starts a comment line; blank lines are ignored.
 *   NAME  letters, digits, '.', '_', '-' (1 to 64; no ':', which Basic uses as separator)
 *   ROLE  viewer (pages, images, JSON, metrics) or operator (also the actions)
 *   HASH  a salted crypt(3) hash of the password: yescrypt "$y$...", "$gy$", "$7$",
 *         bcrypt "$2b$" or sha512-crypt "$6$" (`mkpasswd -m yescrypt`, `openssl passwd -6`);
 *         never the password itself. Methods libxcrypt deems legacy (DES, MD5, "$5$") are
 *         refused.
 *
 * Ownership: so_auth_load() returns a table the caller frees with so_auth_destroy().
 * Thread-safety: a loaded table is immutable but for its verification cache (mutex inside);
 * so_auth_check() may run on any number of threads at once.
 * Secrets: no function here logs or prints a password, a hash or a header.
 */
#ifndef SO_HTTP_AUTH_H
#define SO_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct so_config_errors;

enum so_auth_role {
    SO_AUTH_NONE = 0,       /* no credentials needed (/healthz) / no valid credentials */
    SO_AUTH_VIEWER = 1,     /* pages, images, status JSON, metrics */
    SO_AUTH_OPERATOR = 2,   /* the actions, and everything a viewer may */
};

/* What a request gets: served, 401 (no or bad credentials), 403 (a role too low). */
enum so_auth_verdict {
    SO_AUTH_ALLOW,
    SO_AUTH_UNAUTHORIZED,
    SO_AUTH_FORBIDDEN,
};

struct so_auth;

/*
 * Parse a users file's text (`name` is what errors call the file). Returns the table, or NULL
 * with every problem added to `errors` as name:line:column and what was expected (a file
 * without any user is an error too: it would lock everyone out).
 */
struct so_auth *so_auth_parse(const char *name, const char *text, size_t len,
                              struct so_config_errors *errors);

/* Read and parse the file at `path` (an unreadable file is one error, line 0). */
struct so_auth *so_auth_load(const char *path, struct so_config_errors *errors);

/* Free. Accepts NULL. */
void so_auth_destroy(struct so_auth *a);

/* How many users the table holds. */
size_t so_auth_count(const struct so_auth *a);

/*
 * The role an Authorization header value grants: "Basic base64(NAME:PASSWORD)" for a user of
 * the table whose hash matches. SO_AUTH_NONE for a missing (NULL) or malformed header, another
 * scheme, an unknown user or a wrong password. A password verified once is remembered (its
 * SHA-256, in memory only) so that a page polling images does not pay crypt(3) per request.
 */
enum so_auth_role so_auth_check(struct so_auth *a, const char *authorization);

/* The verdict for a request needing `need` whose credentials granted `have`. */
enum so_auth_verdict so_auth_decide(enum so_auth_role need, enum so_auth_role have);

/* "viewer" / "operator" / "none". */
const char *so_auth_role_name(enum so_auth_role r);

/* Compare n bytes in time independent of where they differ (true when equal). */
bool so_auth_equal(const void *a, const void *b, size_t n);

#endif
