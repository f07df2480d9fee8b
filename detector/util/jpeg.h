/*
 * JPEG encoding of BGR frames (evidence images, HTTP snapshots) with libjpeg-turbo.
 */
#ifndef SO_UTIL_JPEG_H
#define SO_UTIL_JPEG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Encode `height` rows of `width` BGR pixels (3 bytes each; row y starts at bgr + y * stride,
 * stride >= 3 * width; padding bytes are never read) as a baseline JPEG, 4:2:0, standard
 * Huffman tables, at `quality` 1..100 (the same stream cv::imencode(".jpg") wrote with
 * IMWRITE_JPEG_QUALITY).
 *
 * On success returns 0, *out is a malloc()ed buffer the caller owns (free()) and *size its
 * length. On failure *out is NULL, *size 0 and it returns -EINVAL (bad argument, or a size
 * libjpeg refuses: more than 65500 pixels a side), -ENOMEM, or -EIO (any other libjpeg
 * error). libjpeg's errors never exit the process and it never prints anything.
 * Thread-safety: reentrant (no shared state).
 */
int so_jpeg_encode(const uint8_t *bgr, int width, int height, int stride, int quality,
                   uint8_t **out, size_t *size);

#endif
