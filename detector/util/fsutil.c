/*
 * Why this file exists: creating folders and writing whole buffers are needed by every module
 * that writes files; one definition, so a retry rule (EINTR, short writes) cannot drift. Small
 * files read whole (configuration beside the config) share one reader too.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int so_fs_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        return -ENAMETOOLONG;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

bool so_fs_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

int so_fs_open_with_parent(const char *path, int flags)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = 0;
        so_fs_mkdirs(dir);
    }
    free(dir);
    return open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

char *so_fs_read_small(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *text = malloc(max + 2);
    if (!text) {
        abort();
    }
    size_t n = fread(text, 1, max + 1, f);
    int err = ferror(f) ? EIO : n > max ? EFBIG : 0;
    fclose(f);
    if (err) {
        free(text);
        errno = err;
        return NULL;
    }
    text[n] = 0;
    *len = n;
    return text;
}
