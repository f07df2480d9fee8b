/*
 * Why this file exists: the config validates `detector.backend` and reports which backends a
 * build has; that is a fact about the build, not about a running detector, so it lives apart
 * from detector.c (and links into the config fuzzer without OpenCV). SO_HAVE_XNNPACK is set
 * by meson when libXNNPACK and libpthreadpool are found.
 */
#include "backend.h"

#include <string.h>

const char *so_detect_backend_name(enum so_detect_backend b)
{
    switch (b) {
    case SO_DETECT_BACKEND_DEFAULT:
        return "default";
    case SO_DETECT_BACKEND_OPENCV:
        return "opencv";
    case SO_DETECT_BACKEND_XNNPACK:
        return "xnnpack";
    }
    return NULL;
}

bool so_detect_backend_parse(const char *name, enum so_detect_backend *out)
{
    if (name && strcmp(name, "opencv") == 0) {
        *out = SO_DETECT_BACKEND_OPENCV;
    } else if (name && strcmp(name, "xnnpack") == 0) {
        *out = SO_DETECT_BACKEND_XNNPACK;
    } else {
        return false;
    }
    return true;
}

bool so_detect_backend_available(enum so_detect_backend b)
{
#ifdef SO_HAVE_XNNPACK
    return b >= SO_DETECT_BACKEND_DEFAULT && b <= SO_DETECT_BACKEND_XNNPACK;
#else
    return b == SO_DETECT_BACKEND_DEFAULT || b == SO_DETECT_BACKEND_OPENCV;
#endif
}

enum so_detect_backend so_detect_backend_default(void)
{
#ifdef SO_HAVE_XNNPACK
    return SO_DETECT_BACKEND_XNNPACK;
#else
    return SO_DETECT_BACKEND_OPENCV;
#endif
}

