/*
 * cv::imread behind the shim's rules, in a library of its own so that only the tests and tools
 * that read image files link libopencv_imgcodecs (see socv_imgio.h). The daemon encodes its
 * JPEGs with libjpeg-turbo (detector/util/jpeg.c).
 */
#include "socv_imgio.h"
#include "socv_internal.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

using socv_detail::guard;
using socv_detail::set_error;

extern "C" {

enum socv_status socv_image_read(const char *path, uint8_t **bgr, int *width, int *height,
                                 int *stride)
{
    if (!path || !bgr || !width || !height || !stride) {
        set_error("socv_image_read: invalid argument");
        return SOCV_EINVAL;
    }
    *bgr = nullptr;
    *width = *height = *stride = 0;
    return guard([&] {
        /* check first: imread would log its own warning for a missing file */
        std::FILE *fp = std::fopen(path, "rb");
        if (fp) {
            std::fclose(fp);
        }
        cv::Mat img = fp ? cv::imread(path, cv::IMREAD_COLOR) : cv::Mat();
        if (img.empty()) {
            std::string msg = std::string("cannot read image ") + path;
            set_error(msg.c_str());
            return SOCV_EIO;
        }
        size_t row = (size_t)img.cols * 3;
        uint8_t *mem = static_cast<uint8_t *>(std::malloc(row * (size_t)img.rows));
        if (!mem) {
            set_error("out of memory");
            return SOCV_ENOMEM;
        }
        for (int y = 0; y < img.rows; y++) {
            std::memcpy(mem + row * (size_t)y, img.ptr<uint8_t>(y), row);
        }
        *bgr = mem;
        *width = img.cols;
        *height = img.rows;
        *stride = (int)row;
        return SOCV_OK;
    });
}

} // extern "C"
