/*
 * A minimal TAP test harness for the unit tests: typed asserts that report the expression, the
 * values and the line, and keep going so one run shows every failure.
 */
#ifndef SO_TESTLIB_H
#define SO_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>

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

/* Exit 77 (skip) when assets are missing and CI is unset; exit 1 when CI is set. */
void so_test_require_assets(void);

#define CHECK(cond) so_test_check((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECK_INT(a, b)                                                                       \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        so_test_check(a_ == b_, __FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, a_, b_); \
    } while (0)
#define CHECK_DBL(a, b, eps)                                                                  \
    do {                                                                                      \
        double a_ = (a), b_ = (b);                                                            \
        so_test_check(a_ - b_ <= (eps) && b_ - a_ <= (eps), __FILE__, __LINE__,               \
                      "%s ~= %s (%g vs %g)", #a, #b, a_, b_);                                 \
    } while (0)
#define CHECK_STR(a, b)                                                                       \
    do {                                                                                      \
        const char *a_ = (a), *b_ = (b);                                                      \
        so_test_check(a_ && b_ && strcmp(a_, b_) == 0, __FILE__, __LINE__,                    \
                      "%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",              \
                      b_ ? b_ : "(null)");                                                    \
    } while (0)
#define CHECK_CONTAINS(hay, needle)                                                           \
    do {                                                                                      \
        const char *h_ = (hay), *n_ = (needle);                                               \
        so_test_check(h_ && n_ && strstr(h_, n_) != NULL, __FILE__, __LINE__,                 \
                      "%s contains \"%s\" (got \"%s\")", #hay, n_ ? n_ : "", h_ ? h_ : "(null)"); \
    } while (0)

#endif
