/*
 * The DNN half of the OpenCV shim: a darknet network behind a typed handle. (Image reading
 * for tests and tools is socv_imgio.cpp, outside the daemon's link.)
 *
 * Why here and so thin: cv::dnn is the only inference engine Debian ships with OpenCV, and the
 * small YOLO models we use (Yolo-Fastest, MobileNetV2-YOLOv3-Nano) load with
 * readNetFromDarknet and run in 15-45 ms on one core. Everything that is policy (score
 * thresholds, class names and roles, NMS, filters, frame coordinates) lives in C
 * (detector/detect/), where it is tested without a network; this file only turns pixels into
 * the raw output rows. The region layer of OpenCV already decodes anchors, sigmoid/exp and
 * scale_x_y and multiplies the class scores by objectness, so the rows need no further math
 * here.
 *
 * Memory: the output rows are copied once into a buffer owned by the handle and reused between
 * calls, so the steady state allocates only what cv::dnn allocates itself. Preprocessing is
 * cv::dnn::blobFromImage (resize to the input size, no crop, optional R/B swap, scale, mean):
 * it copies, so the caller's view is only read.
 *
 * Threads: a cv::dnn::Net is not safe to run from two threads at once; one handle per analysis
 * thread. cv::setNumThreads is process-wide (see socv.h).
 */
#include "socv.h"
#include "socv_internal.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

struct socv_net {
    cv::dnn::Net net;
    std::vector<std::string> out_names;
    std::vector<cv::Mat> outs;
    std::vector<float> rows;
};

namespace {

using socv_detail::guard;
using socv_detail::set_error;
using socv_detail::valid;
using socv_detail::wrap;

} // namespace

extern "C" {

struct socv_net *socv_net_create_darknet(const char *cfg_path, const char *weights_path)
{
    if (!cfg_path || !weights_path) {
        set_error("socv_net_create_darknet: NULL path");
        return nullptr;
    }
    socv_net *n = nullptr;
    socv_status st = guard([&] {
        n = new socv_net;
        n->net = cv::dnn::readNetFromDarknet(cfg_path, weights_path);
        if (n->net.empty()) {
            set_error("readNetFromDarknet returned an empty network");
            return SOCV_ECV;
        }
        n->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        n->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        n->out_names = n->net.getUnconnectedOutLayersNames();
        if (n->out_names.empty()) {
            set_error("network has no output layer");
            return SOCV_ECV;
        }
        return SOCV_OK;
    });
    if (st != SOCV_OK) {
        delete n;
        return nullptr;
    }
    return n;
}

void socv_net_destroy(struct socv_net *net)
{
    delete net;
}

enum socv_status socv_net_forward(struct socv_net *net, const struct socv_view *bgr,
                                  const struct socv_dnn_input *input, const float **rows,
                                  int *n_rows, int *n_cols)
{
    if (!net || !valid(bgr, 3) || !input || input->width <= 0 || input->height <= 0 ||
        !rows || !n_rows || !n_cols) {
        set_error("socv_net_forward: invalid argument");
        return SOCV_EINVAL;
    }
    *rows = nullptr;
    *n_rows = 0;
    *n_cols = 0;
    return guard([&] {
        cv::Mat blob = cv::dnn::blobFromImage(
            wrap(bgr), input->scale, cv::Size(input->width, input->height),
            cv::Scalar(input->mean[0], input->mean[1], input->mean[2]), input->swap_rb != 0,
            false, CV_32F);
        net->net.setInput(blob);
        net->outs.clear();
        net->net.forward(net->outs, net->out_names);

        int cols = 0;
        size_t total = 0;
        for (const cv::Mat &o : net->outs) {
            if (o.dims != 2 || o.type() != CV_32F || (cols && o.cols != cols)) {
                set_error("unexpected output layout (expected 2-D float rows of equal width)");
                return SOCV_ECV;
            }
            cols = o.cols;
            total += (size_t)o.rows;
        }
        net->rows.resize(total * (size_t)cols);
        size_t at = 0;
        for (const cv::Mat &o : net->outs) {
            for (int r = 0; r < o.rows; r++) {
                std::memcpy(&net->rows[at], o.ptr<float>(r), (size_t)cols * sizeof(float));
                at += (size_t)cols;
            }
        }
        *rows = net->rows.data();
        *n_rows = (int)total;
        *n_cols = cols;
        return SOCV_OK;
    });
}

enum socv_status socv_set_num_threads(int threads)
{
    return guard([&] {
        if (threads > 0) {
            cv::setNumThreads(threads);
        }
        return SOCV_OK;
    });
}

} // extern "C"
