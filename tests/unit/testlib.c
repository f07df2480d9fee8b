/* TAP output for the unit tests; see testlib.h. */
#include "testlib.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "so_build_config.h"

int so_test_failures;
static int count;

bool so_test_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - %s:%d: ", ok ? "ok" : "not ok", ++count, file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!ok) {
        so_test_failures++;
    }
    return ok;
}

int so_test_done(void)
{
    printf("1..%d\n", count);
    return so_test_failures ? 1 : 0;
}

const char *so_test_assets(void)
{
    const char *env = getenv("STREETORDER_ASSETS");
    return (env && *env) ? env : SO_SOURCE_DIR "/../shared/assets";
}

void so_test_require_assets(void)
{
    struct stat st;
    if (stat(so_test_assets(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return;
    }
    const char *ci = getenv("CI");
    if (ci && *ci) {
        printf("Bail out! assets not found at %s (CI is set)\n", so_test_assets());
        exit(1);
    }
    printf("1..0 # SKIP assets not found at %s\n", so_test_assets());
    exit(77);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void so_test_rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
