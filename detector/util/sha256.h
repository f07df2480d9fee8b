/*
 * SHA-256 as lowercase hex: of a memory buffer (evidence images: events/event.c writes the sum,
 * intake/message.c checks it) and of a file (model files, detect/model.c). OpenSSL's EVP
 * digest underneath.
 *
 * Ownership: `out` is the caller's 65-byte buffer (64 hex digits and a NUL).
 * Thread-safety: reentrant (no shared state).
 */
#ifndef SO_UTIL_SHA256_H
#define SO_UTIL_SHA256_H

#include <stddef.h>

/* SHA-256 of `size` bytes at `data`. On the (allocation) failure of the digest, out is "". */
void so_sha256_hex(const void *data, size_t size, char out[65]);

/*
 * SHA-256 of a file, read in 64 KiB blocks. 0, or a negative errno when it cannot be opened
 * (-errno), read (-EIO) or digested (-ENOMEM, -EIO); out is left as it was then. *size gets
 * the file's length when size != NULL.
 */
int so_sha256_file(const char *path, char out[65], long long *size);

#endif
