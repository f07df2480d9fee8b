/* TAP output and shared fixtures for the unit tests; see testlib.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
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
    /* TAP's own skip, exit 0: meson's TAP protocol takes exit 77 for an error. Cases that
     * ran before the assets were needed keep their lines; the rest is one skipped line. */
    if (count == 0) {
        printf("1..0 # SKIP assets not found at %s\n", so_test_assets());
        exit(0);
    }
    printf("ok %d # SKIP the cases that need assets: none found at %s\n", ++count,
           so_test_assets());
    exit(so_test_done());
}

/* A fixture that cannot be made: the test has nothing to say. */
static void fixture_failed(const char *what, const char *path)
{
    printf("Bail out! %s %s: %m\n", what, path);
    exit(1);
}

void so_test_write_temp(const char *text, char *path)
{
    snprintf(path, PATH_MAX, "/tmp/so_test_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        fixture_failed("mkstemp", path);
    }
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) {
        fixture_failed("write", path);
    }
    close(fd);
}

void so_test_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    size_t n = strlen(text);
    if (!fp || fwrite(text, 1, n, fp) != n || fclose(fp) != 0) {
        fixture_failed("write", path);
    }
}

char *so_test_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return NULL;
    }
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

void so_test_temp_dir(char *path)
{
    snprintf(path, PATH_MAX, "/tmp/so_test_XXXXXX");
    if (!mkdtemp(path)) {
        fixture_failed("mkdtemp", path);
    }
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void so_test_rm_rf(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int so_test_listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

void so_test_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void so_test_dump_errors(const struct so_config_errors *errors)
{
    for (size_t i = 0; i < errors->n; i++) {
        const struct so_config_error *e = &errors->items[i];
        printf("#   %s:%d:%d: %s: %s\n", e->file ? e->file : "", e->line, e->column, e->key,
               e->message);
    }
}
