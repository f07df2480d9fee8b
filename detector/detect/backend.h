/*
 * The names of the detector's backends (config `detector.backend`) and what this build has:
 * apart from detector.h so that the config loader (a lower layer) can validate the key without
 * seeing the detector. Pure functions, no allocation.
 */
#ifndef SO_DETECT_BACKEND_H
#define SO_DETECT_BACKEND_H

#include <stdbool.h>

/*
 * The engine that runs the network (config `detector.backend`). Both give the same rows
 * (tests/unit/test_xnnpack.c); XNNPACK is 2.5-2.7x faster on one core (docs/performance.md).
 */
enum so_detect_backend {
    SO_DETECT_BACKEND_DEFAULT = 0,  /* xnnpack when built with it, else opencv */
    SO_DETECT_BACKEND_OPENCV,       /* cv::dnn through the shim */
    SO_DETECT_BACKEND_XNNPACK,      /* XNNPACK subgraph from the darknet files */
};

/* "default", "opencv", "xnnpack"; NULL when out of range. */
const char *so_detect_backend_name(enum so_detect_backend b);
/* Parse "opencv" or "xnnpack"; false when unknown. */
bool so_detect_backend_parse(const char *name, enum so_detect_backend *out);
/* Whether this build has the backend (DEFAULT and OPENCV always). */
bool so_detect_backend_available(enum so_detect_backend b);
/* What DEFAULT means in this build (OPENCV or XNNPACK). */
enum so_detect_backend so_detect_backend_default(void);

#endif
