/*
 * The OpenCV shim. Every entry point runs its body through guard(), which catches every C++
 * exception (cv::Exception, std::bad_alloc, anything else), records its message in a
 * thread-local buffer and returns a status: nothing ever unwinds into C.
 *
 * Images are wrapped as cv::Mat headers over caller memory (no copies) except for canvases,
 * which own a copy so that drawing never touches a shared, ref-counted frame.
 */
#include "socv.h"
#include "socv_internal.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

struct socv_canvas {
    cv::Mat img;
};

namespace {

using socv_detail::guard;
using socv_detail::set_error;
using socv_detail::valid;
using socv_detail::wrap;

std::vector<cv::Point> points(const int *xy, int n)
{
    std::vector<cv::Point> pts((size_t)n);
    for (int i = 0; i < n; i++) {
        pts[(size_t)i] = cv::Point(xy[2 * i], xy[2 * i + 1]);
    }
    return pts;
}

cv::Scalar scalar(socv_color c)
{
    return cv::Scalar(c.b, c.g, c.r);
}

} // namespace

extern "C" {

const char *socv_last_error(void)
{
    return socv_detail::last_error;
}

struct socv_canvas *socv_canvas_create(const struct socv_view *bgr)
{
    if (!valid(bgr, 3)) {
        set_error("socv_canvas_create: invalid BGR view");
        return nullptr;
    }
    socv_canvas *c = nullptr;
    socv_status st = guard([&] {
        c = new socv_canvas;
        c->img = wrap(bgr).clone();
        return SOCV_OK;
    });
    if (st != SOCV_OK) {
        delete c;
        return nullptr;
    }
    return c;
}

void socv_canvas_destroy(struct socv_canvas *c)
{
    delete c;
}

struct socv_view socv_canvas_view(struct socv_canvas *c)
{
    socv_view v{};
    if (c) {
        v.data = c->img.data;
        v.width = c->img.cols;
        v.height = c->img.rows;
        v.stride = (int)c->img.step[0];
        v.channels = 3;
    }
    return v;
}

enum socv_status socv_canvas_polygon(struct socv_canvas *c, const int *xy, int n, int closed,
                                     struct socv_color color, int thickness, int filled)
{
    if (!c || !xy || n < 2) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        std::vector<std::vector<cv::Point>> polys{points(xy, n)};
        if (filled) {
            cv::fillPoly(c->img, polys, scalar(color), cv::LINE_AA);
        } else {
            cv::polylines(c->img, polys, closed != 0, scalar(color), thickness, cv::LINE_AA);
        }
        return SOCV_OK;
    });
}

enum socv_status socv_canvas_polygon_blend(struct socv_canvas *c, const int *xy, int n,
                                           struct socv_color color, double alpha)
{
    if (!c || !xy || n < 3) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::Mat overlay = c->img.clone();
        std::vector<std::vector<cv::Point>> polys{points(xy, n)};
        cv::fillPoly(overlay, polys, scalar(color), cv::LINE_AA);
        cv::addWeighted(overlay, alpha, c->img, 1.0 - alpha, 0.0, c->img);
        return SOCV_OK;
    });
}

enum socv_status socv_canvas_rect(struct socv_canvas *c, int x, int y, int w, int h,
                                  struct socv_color color, int thickness)
{
    if (!c) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::rectangle(c->img, cv::Rect(x, y, w, h), scalar(color), thickness, cv::LINE_AA);
        return SOCV_OK;
    });
}

enum socv_status socv_canvas_text(struct socv_canvas *c, const char *text, int x, int y,
                                  double scale, struct socv_color color)
{
    if (!c || !text) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        int thick = scale >= 0.8 ? 2 : 1;
        cv::putText(c->img, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale,
                    cv::Scalar(0, 0, 0), thick + 2, cv::LINE_AA);
        cv::putText(c->img, text, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, scale,
                    scalar(color), thick, cv::LINE_AA);
        return SOCV_OK;
    });
}

enum socv_status socv_mask_fill_polygon(const struct socv_view *mask, const int *xy, int n,
                                        uint8_t value)
{
    if (!valid(mask, 1) || !xy || n < 3) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::Mat m = wrap(mask);
        std::vector<std::vector<cv::Point>> polys{points(xy, n)};
        cv::fillPoly(m, polys, cv::Scalar(value), cv::LINE_8);
        return SOCV_OK;
    });
}

enum socv_status socv_mask_open_close(const struct socv_view *mask, int open_size,
                                      int close_size)
{
    if (!valid(mask, 1) || open_size < 0 || close_size < 0) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::Mat m = wrap(mask);
        if (open_size > 1) {
            cv::Mat k = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(open_size, open_size));
            cv::morphologyEx(m, m, cv::MORPH_OPEN, k);
        }
        if (close_size > 1) {
            cv::Mat k =
                cv::getStructuringElement(cv::MORPH_RECT, cv::Size(close_size, close_size));
            cv::morphologyEx(m, m, cv::MORPH_CLOSE, k);
        }
        return SOCV_OK;
    });
}

enum socv_status socv_resize(const struct socv_view *src, const struct socv_view *dst)
{
    if (!src || !dst || !valid(src, src->channels) || !valid(dst, src->channels)) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::Mat d = wrap(dst);
        cv::resize(wrap(src), d, d.size(), 0, 0, cv::INTER_LINEAR);
        return SOCV_OK;
    });
}

enum socv_status socv_gray_blur(const struct socv_view *gray, int ksize)
{
    if (!valid(gray, 1) || ksize < 1 || (ksize & 1) == 0) {
        return SOCV_EINVAL;
    }
    return guard([&] {
        cv::Mat m = wrap(gray);
        cv::GaussianBlur(m, m, cv::Size(ksize, ksize), 0);
        return SOCV_OK;
    });
}

enum socv_status socv_mask_components(const struct socv_view *mask, int32_t *labels,
                                      int labels_stride, int min_area, struct socv_blob *blobs,
                                      int max_blobs, int *n_blobs)
{
    if (!valid(mask, 1) || !n_blobs || (max_blobs > 0 && !blobs) ||
        (labels && labels_stride < mask->width)) {
        return SOCV_EINVAL;
    }
    *n_blobs = 0;
    return guard([&] {
        /* Labels straight into the caller's buffer when there is one (no per-frame copy). */
        cv::Mat lab, stats, centroids;
        size_t step = (size_t)(labels ? labels_stride : 0) * sizeof(int32_t);
        if (labels) {
            lab = cv::Mat(mask->height, mask->width, CV_32S, labels, step);
        }
        int n = cv::connectedComponentsWithStats(wrap(mask), lab, stats, centroids, 8, CV_32S);
        int out = 0;
        for (int i = 1; i < n && out < max_blobs; i++) {
            int area = stats.at<int>(i, cv::CC_STAT_AREA);
            if (area < min_area) {
                continue;
            }
            blobs[out++] = socv_blob{stats.at<int>(i, cv::CC_STAT_LEFT),
                                     stats.at<int>(i, cv::CC_STAT_TOP),
                                     stats.at<int>(i, cv::CC_STAT_WIDTH),
                                     stats.at<int>(i, cv::CC_STAT_HEIGHT), area, i};
        }
        *n_blobs = out;
        if (labels && lab.data != reinterpret_cast<uchar *>(labels)) {
            cv::Mat dst(mask->height, mask->width, CV_32S, labels, step);
            lab.copyTo(dst);
        }
        return SOCV_OK;
    });
}

} // extern "C"
