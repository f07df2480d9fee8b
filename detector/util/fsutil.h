/*
 * Small file-system helpers shared by the modules that write files (events/ sinks, tools) and
 * read small ones whole (the HTTP users file, TLS certificates).
 * Thread-safe (no state); errors as negative errno codes.
 */
#ifndef SO_UTIL_FSUTIL_H
#define SO_UTIL_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* mkdir -p (mode 0755). Returns 0 or a negative errno (-ENAMETOOLONG past 4095 bytes). */
int so_fs_mkdirs(const char *path);

/* Write all of buf[0..len) to fd, retrying short writes and EINTR. False on an error (errno
 * set). One call of write(2) when the kernel takes it all, as for regular files. */
bool so_fs_write_all(int fd, const void *buf, size_t len);

/* Create the parent folder of `path` if needed (errors ignored: open() reports them), then
 * open(path, flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644). Returns the fd or -1 (errno). */
int so_fs_open_with_parent(const char *path, int flags);

/* A whole small file as a malloc()ed NUL-terminated text (caller frees), its length in *len.
 * NULL with errno set when it cannot be opened or read, or is longer than `max` (EFBIG). */
char *so_fs_read_small(const char *path, size_t max, size_t *len);

#endif
