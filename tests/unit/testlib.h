/*
 * A minimal TAP test harness for the unit tests: typed asserts that report the expression, the
 * values and the line, and keep going so one run shows every failure; and the helpers several
 * tests need (temp files and folders, a loopback listener, a config error dump), here once
 * rather than copied into each test. Single-threaded: call the asserts from one thread at a
 * time. Helpers that cannot do their job (a temp file not written) end the test with exit(1):
 * a test without its fixture has nothing to say.
 */
#ifndef SO_TESTLIB_H
#define SO_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>

struct so_config_errors;

extern int so_test_failures;

/* Report one check as a TAP line; returns ok. */
bool so_test_check(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Print the TAP plan and return the exit status (0 when nothing failed). */
int so_test_done(void);

/* Assets folder: $STREETORDER_ASSETS, else ../shared/assets beside the source tree. */
const char *so_test_assets(void);

/* Remove a folder and everything in it (rm -rf; errors ignored). */
void so_test_rm_rf(const char *dir);

/* When assets are missing: with CI set, bail out (exit 1); without, skip the rest in TAP's
 * own words ("1..0 # SKIP", or a skipped line after the cases already run) and exit 0, which
 * meson's TAP protocol reads as skipped (it takes exit 77 for an error). */
void so_test_require_assets(void);

/* Write `text` to a fresh file /tmp/so_test_XXXXXX; its name goes to path (PATH_MAX bytes).
 * The caller removes it. */
void so_test_write_temp(const char *text, char *path);

/* Write `text` to path, created or truncated. */
void so_test_write_file(const char *path, const char *text);

/* The whole file as a NUL-terminated string the caller frees; NULL if it cannot be read. */
char *so_test_read_file(const char *path);

/* Make a fresh folder /tmp/so_test_XXXXXX; its name goes to path (PATH_MAX bytes). */
void so_test_temp_dir(char *path);

/* Remove a file, or a folder and everything below it (rm -rf); nothing when it is missing. */
void so_test_rm_rf(const char *path);

/* A TCP socket listening on 127.0.0.1 at an ephemeral port (set in *port): a server's accept()
 * side, or a peer that completes the handshake and then stays silent. -1 on failure. */
int so_test_listen_local(int *port);

/* Sleep `s` seconds (resumed after a signal). */
void so_test_sleep(double s);

/* Print each config error as a TAP comment, "#   file:line:column: key: message". */
void so_test_dump_errors(const struct so_config_errors *errors);

#define CHECK(cond) so_test_check((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECK_INT(a, b)                                                                        \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        so_test_check(a_ == b_, __FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_); \
    } while (0)
#define CHECK_DBL(a, b, eps)                                                                   \
    do {                                                                                       \
        double a_ = (a), b_ = (b);                                                             \
        so_test_check(a_ - b_ <= (eps) && b_ - a_ <= (eps), __FILE__, __LINE__,                \
                      "%s ~= %s (%g vs %g)", #a, #b, a_, b_);                                  \
    } while (0)
#define CHECK_STR(a, b)                                                                        \
    do {                                                                                       \
        const char *a_ = (a), *b_ = (b);                                                       \
        so_test_check(a_ && b_ && strcmp(a_, b_) == 0, __FILE__, __LINE__,                     \
                      "%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",               \
                      b_ ? b_ : "(null)");                                                     \
    } while (0)
/* A text contains `needle`; the TAP line shows the first line of each (a TAP report is one line
 * per check, and the text may be a whole page). */
#define CHECK_CONTAINS(hay, needle)                                                            \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        so_test_check(h_ && n_ && strstr(h_, n_) != NULL, __FILE__, __LINE__,                  \
                      "%s contains \"%.*s\" (got \"%.*s\")", #hay,                             \
                      n_ ? (int)strcspn(n_, "\n") : 0, n_ ? n_ : "",                           \
                      h_ ? (int)strcspn(h_, "\n") : 6, h_ ? h_ : "(null)");                    \
    } while (0)

#endif
