/*
 * Why this file exists: the detector's pages show camera images and its editor runs actions;
 * the intake's desk will show cases. Neither may answer a stranger once it listens beyond
 * loopback. This is the part both servers share: the users file, the check of a request's
 * credentials, and the verdict for its role. The server only maps URLs to roles, answers
 * 401/403 and counts.
 *
 * Design:
 * - HTTP Basic, because every browser asks for it by itself (no login page to write, no
 *   session to keep), curl and Prometheus send it, and a test can too. Over plain HTTP the
 *   password crosses the wire readable: configure TLS (http.tls_cert) when the pages leave the
 *   machine; docs/http.md says so.
 * - The file holds crypt(3) hashes only (libxcrypt: yescrypt, bcrypt, sha512-crypt...), each
 *   with its own salt, and the standard tools make them (mkpasswd, openssl passwd -6). What
 *   libxcrypt calls legacy (DES, MD5, sha256-crypt "$5$") is refused when the file is loaded
 *   (crypt_checksalt), so a weak file is a `streetorder check` error rather than a surprise.
 * - A page polls its images every second; yescrypt costs milliseconds by design. So each user
 *   remembers the SHA-256 of the last password that passed crypt(3) (memory only, behind a
 *   mutex) and a request with the same password is compared against that. A changed password
 *   in the file needs a restart anyway (http.* keys are restart keys).
 * - Compares of secrets are constant-time (CRYPTO_memcmp); an unknown user still pays one
 *   crypt(3) (against the first user's hash, then fails), so timing does not tell which names
 *   exist.
 * - Nothing here logs; errors name the file, line and column, never a hash or a password.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fsutil.h"
#include "xalloc.h"

#define NAME_MAX_LEN 64
#define PASS_MAX_LEN 256

struct user {
    char *name;
    char *hash;
    enum so_auth_role role;
    int line;
    bool cached;                        /* ok_sum holds a verified password's SHA-256 */
    unsigned char ok_sum[32];
};

struct so_auth {
    struct user *users;
    size_t n;
    pthread_mutex_t lock;               /* guards every user's cached/ok_sum */
};

static const char *const hash_prefixes[] = {"$y$", "$gy$", "$7$", "$2b$", "$6$"};

bool so_auth_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

const char *so_auth_role_name(enum so_auth_role r)
{
    return r == SO_AUTH_OPERATOR ? "operator" : r == SO_AUTH_VIEWER ? "viewer" : "none";
}

enum so_auth_verdict so_auth_decide(enum so_auth_role need, enum so_auth_role have)
{
    if (need == SO_AUTH_NONE) {
        return SO_AUTH_ALLOW;
    }
    if (have == SO_AUTH_NONE) {
        return SO_AUTH_UNAUTHORIZED;
    }
    return have >= need ? SO_AUTH_ALLOW : SO_AUTH_FORBIDDEN;
}

size_t so_auth_count(const struct so_auth *a)
{
    return a ? a->n : 0;
}

static bool good_hash(const char *h)
{
    bool known = false;
    for (size_t i = 0; i < sizeof(hash_prefixes) / sizeof(hash_prefixes[0]); i++) {
        known = known || strncmp(h, hash_prefixes[i], strlen(hash_prefixes[i])) == 0;
    }
    return known && crypt_checksalt(h) == CRYPT_SALT_OK && strchr(h + 1, '$') &&
           strrchr(h, '$')[1] != 0;
}

/* One field of a line: where it starts (0-based offset) and how long it is. */
struct field {
    const char *s;
    size_t len;
};

static void add_error(struct so_config_errors *errors, const char *name, int line, int col,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add_error(struct so_config_errors *errors, const char *name, int line, int col,
                      const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    so_config_errors_add(errors, name, line, col, "", msg);
}

/* Split a line into at most 4 fields (the 4th means "too many"); returns how many. */
static size_t split(const char *s, size_t len, struct field f[4])
{
    size_t n = 0, i = 0;
    while (n < 4) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
            i++;
        }
        if (i == len) {
            break;
        }
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            i++;
        }
        f[n++] = (struct field){s + start, i - start};
    }
    return n;
}

/* Check one "NAME ROLE HASH" line and append its user; false after adding an error. */
static bool parse_line(struct so_auth *a, const char *name, int line, const char *s, size_t len,
                       struct so_config_errors *errors)
{
    struct field f[4];
    size_t n = split(s, len, f);
    int end_col = (int)len + 1;
    static const char name_chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    size_t ok = 0;
    while (ok < f[0].len && strchr(name_chars, f[0].s[ok])) {
        ok++;
    }
    if (ok < f[0].len || f[0].len > NAME_MAX_LEN) {
        add_error(errors, name, line, (int)(f[0].s - s) + 1,
                  "expected a user name (letters, digits, '.', '_', '-'; 1 to %d), got \"%.*s\"",
                  NAME_MAX_LEN, (int)(f[0].len > NAME_MAX_LEN ? NAME_MAX_LEN : f[0].len),
                  f[0].s);
        return false;
    }
    if (n < 2) {
        add_error(errors, name, line, end_col, "expected a role (viewer or operator) after the "
                  "user name, got the end of the line");
        return false;
    }
    enum so_auth_role role = SO_AUTH_NONE;
    if (f[1].len == 6 && memcmp(f[1].s, "viewer", 6) == 0) {
        role = SO_AUTH_VIEWER;
    } else if (f[1].len == 8 && memcmp(f[1].s, "operator", 8) == 0) {
        role = SO_AUTH_OPERATOR;
    } else {
        add_error(errors, name, line, (int)(f[1].s - s) + 1,
                  "expected a role, viewer or operator, got \"%.*s\"",
                  (int)(f[1].len > 32 ? 32 : f[1].len), f[1].s);
        return false;
    }
    if (n < 3) {
        add_error(errors, name, line, end_col, "expected the password's crypt(3) hash after the "
                  "role, got the end of the line");
        return false;
    }
    char *hash = so_xprintf("%.*s", (int)f[2].len, f[2].s);
    if (!good_hash(hash)) {
        /* Never echo it: a password pasted here by mistake must not reach a log. */
        add_error(errors, name, line, (int)(f[2].s - s) + 1,
                  "expected a salted crypt(3) hash ($y$ yescrypt, $gy$, $7$, $2b$ or $6$; "
                  "make one with `mkpasswd -m yescrypt`), got something else (not shown)");
        free(hash);
        return false;
    }
    if (n > 3) {
        add_error(errors, name, line, (int)(f[3].s - s) + 1,
                  "expected the end of the line after the hash, got more");
        free(hash);
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strlen(a->users[i].name) == f[0].len && !memcmp(a->users[i].name, f[0].s, f[0].len)) {
            add_error(errors, name, line, 1, "expected each user once, \"%s\" is on line %d too",
                      a->users[i].name, a->users[i].line);
            free(hash);
            return false;
        }
    }
    struct user *grown = realloc(a->users, (a->n + 1) * sizeof(*a->users));
    if (!grown) {
        abort();
    }
    a->users = grown;
    a->users[a->n++] = (struct user){.name = so_xprintf("%.*s", (int)f[0].len, f[0].s),
                                     .hash = hash, .role = role, .line = line};
    return true;
}

struct so_auth *so_auth_parse(const char *name, const char *text, size_t len,
                              struct so_config_errors *errors)
{
    struct so_auth *a = so_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    bool ok = true;
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + 1;
        line++;
        struct field f[4];
        if (split(s, n, f) == 0 || f[0].s[0] == '#') {
            continue;
        }
        ok = parse_line(a, name, line, s, n, errors) && ok;
    }
    if (ok && a->n == 0) {
        so_config_errors_add(errors, name, 0, 0, "",
                             "expected at least one user line \"NAME ROLE HASH\", got none");
        ok = false;
    }
    if (!ok) {
        so_auth_destroy(a);
        return NULL;
    }
    return a;
}

struct so_auth *so_auth_load(const char *path, struct so_config_errors *errors)
{
    size_t len = 0;
    char *text = so_fs_read_small(path, 1 << 20, &len);
    if (!text) {
        char msg[300];
        snprintf(msg, sizeof(msg), "expected a readable users file of at most 1 MiB: %s",
                 strerror(errno));
        so_config_errors_add(errors, path, 0, 0, "", msg);
        return NULL;
    }
    struct so_auth *a = so_auth_parse(path, text, len, errors);
    OPENSSL_cleanse(text, len);
    free(text);
    return a;
}

void so_auth_destroy(struct so_auth *a)
{
    if (!a) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->users[i].name);
        free(a->users[i].hash);
    }
    free(a->users);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* "Basic base64(NAME:PASSWORD)" into name and password (NUL-terminated); false if malformed. */
static bool split_basic(const char *h, char name[NAME_MAX_LEN + 1], char pass[PASS_MAX_LEN + 1])
{
    if (!h || strncasecmp(h, "Basic ", 6) != 0) {
        return false;
    }
    h += 6;
    while (*h == ' ') {
        h++;
    }
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    size_t n = strspn(h, b64);
    if (n == 0 || n % 4 != 0 || h[n] != 0 || n > 4 * ((NAME_MAX_LEN + PASS_MAX_LEN + 3) / 3)) {
        return false;
    }
    unsigned char buf[NAME_MAX_LEN + PASS_MAX_LEN + 8];
    int got = EVP_DecodeBlock(buf, (const unsigned char *)h, (int)n);
    if (got < 0) {
        return false;
    }
    got -= (h[n - 1] == '=') + (h[n - 2] == '=');   /* DecodeBlock counts padding as bytes */
    const unsigned char *colon = memchr(buf, ':', (size_t)got);
    if (!colon || colon == buf || colon - buf > NAME_MAX_LEN ||
        got - (colon - buf) - 1 > PASS_MAX_LEN || memchr(buf, 0, (size_t)got)) {
        return false;
    }
    size_t nl = (size_t)(colon - buf), pl = (size_t)got - nl - 1;
    memcpy(name, buf, nl);
    name[nl] = 0;
    memcpy(pass, colon + 1, pl);
    pass[pl] = 0;
    OPENSSL_cleanse(buf, sizeof(buf));
    return true;
}

/* crypt(3) of `pass` with `hash`'s settings equals `hash`. */
static bool crypt_matches(const char *pass, const char *hash)
{
    struct crypt_data *cd = so_xcalloc(1, sizeof(*cd));
    const char *out = crypt_r(pass, hash, cd);
    size_t hl = strlen(hash);
    bool ok = out && out[0] != '*' && strlen(out) == hl && so_auth_equal(out, hash, hl);
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return ok;
}

enum so_auth_role so_auth_check(struct so_auth *a, const char *authorization)
{
    char name[NAME_MAX_LEN + 1], pass[PASS_MAX_LEN + 1];
    if (!a || !split_basic(authorization, name, pass)) {
        return SO_AUTH_NONE;
    }
    struct user *u = NULL;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->users[i].name, name) == 0) {
            u = &a->users[i];
        }
    }
    unsigned char sum[32];
    unsigned int sl = 0;
    EVP_Digest(pass, strlen(pass), sum, &sl, EVP_sha256(), NULL);
    bool ok = false;
    if (u) {
        pthread_mutex_lock(&a->lock);
        ok = u->cached && so_auth_equal(u->ok_sum, sum, sizeof(sum));
        pthread_mutex_unlock(&a->lock);
    }
    if (!ok) {
        ok = crypt_matches(pass, u ? u->hash : a->users[0].hash) && u;
        if (ok) {
            pthread_mutex_lock(&a->lock);
            memcpy(u->ok_sum, sum, sizeof(sum));
            u->cached = true;
            pthread_mutex_unlock(&a->lock);
        }
    }
    OPENSSL_cleanse(pass, sizeof(pass));
    OPENSSL_cleanse(sum, sizeof(sum));
    return ok ? u->role : SO_AUTH_NONE;
}
