/*
 * Internal to the OpenCV shim (socv.cpp, socv_dnn.cpp): the one exception wrapper, the
 * thread-local error message and the view helpers. Never included from C.
 */
#ifndef SO_CVSHIM_SOCV_INTERNAL_HPP
#define SO_CVSHIM_SOCV_INTERNAL_HPP

#include "socv.h"

#include <cstdio>
#include <exception>
#include <new>

#include <opencv2/core.hpp>

namespace socv_detail {

/* The message behind socv_last_error(); one per thread, shared by every shim file. */
inline thread_local char last_error[512];

inline void set_error(const char *msg)
{
    std::snprintf(last_error, sizeof(last_error), "%s", msg ? msg : "");
}

/* Run body() (returning socv_status) and map every C++ exception to a status: nothing ever
 * unwinds into C. */
template <typename F>
socv_status guard(F &&body)
{
    try {
        return body();
    } catch (const cv::Exception &e) {
        set_error(e.what());
        return SOCV_ECV;
    } catch (const std::bad_alloc &) {
        set_error("out of memory");
        return SOCV_ENOMEM;
    } catch (const std::exception &e) {
        set_error(e.what());
        return SOCV_ECV;
    } catch (...) {
        set_error("unknown C++ exception");
        return SOCV_ECV;
    }
}

inline bool valid(const socv_view *v, int channels)
{
    return v && v->data && v->width > 0 && v->height > 0 && v->channels == channels &&
           v->stride >= v->width * channels;
}

/* A cv::Mat header over the caller's pixels (no copy). */
inline cv::Mat wrap(const socv_view *v)
{
    return cv::Mat(v->height, v->width, v->channels == 3 ? CV_8UC3 : CV_8UC1, v->data,
                   (size_t)v->stride);
}

} // namespace socv_detail

#endif
