/*
 * Image files through OpenCV (cv::imread), for tests and tools only: this part of the shim is
 * its own static library (socv_imgio), the only one that links libopencv_imgcodecs, and the
 * daemon never links it (libopencv_imgcodecs pulls ~139 shared libraries into a process).
 * Same rules as socv.h: status codes, no exception crosses, socv_last_error() for the message.
 */
#ifndef SO_CVSHIM_SOCV_IMGIO_H
#define SO_CVSHIM_SOCV_IMGIO_H

#include "socv.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Read an image file (cv::imread, any format OpenCV decodes) as BGR. On success *bgr is a
 * malloc()ed buffer of *height rows of *stride bytes (= width * 3) that the caller free()s.
 * SOCV_EIO when the file is missing or cannot be decoded.
 */
enum socv_status socv_image_read(const char *path, uint8_t **bgr, int *width, int *height,
                                 int *stride);

#ifdef __cplusplus
}
#endif

#endif
