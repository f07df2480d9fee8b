/* libFuzzer target: the intake's message parser. The input is split into frames: each frame
 * is a 2-byte little-endian length then that many bytes (a short last frame takes the rest). */
#include <stddef.h>
#include <stdint.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct so_intake_frame frames[16];
    size_t n = 0, off = 0;
    while (off + 2 <= size && n < 16) {
        size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (len > size - off) {
            len = size - off;
        }
        frames[n++] = (struct so_intake_frame){data + off, len};
        off += len;
    }
    char why[200];
    struct so_intake_event ev;
    if (so_intake_parse(frames, n, &ev, why, sizeof(why)) == 0) {
        so_intake_event_finish(&ev);
    }
    return 0;
}
