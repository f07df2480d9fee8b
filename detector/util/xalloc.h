/*
 * Small allocations that abort on failure (house rule: small allocations may abort; frame
 * buffers are always checked). Thread-safe.
 */
#ifndef SO_UTIL_XALLOC_H
#define SO_UTIL_XALLOC_H

#include <stddef.h>

/* calloc(n, size), at least one byte; aborts when memory is out. */
void *so_xcalloc(size_t n, size_t size);

/* strdup(s) ("" for NULL); aborts when memory is out. */
char *so_xstrdup(const char *s);

/* A malloc()ed formatted string; aborts when memory is out. */
char *so_xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
