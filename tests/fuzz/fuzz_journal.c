/* libFuzzer target: the outbox record reader, as recovery uses it: records one after another
 * until the first torn or corrupt one. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        struct so_outbox_record r;
        size_t used = 0;
        if (so_outbox_parse(data + off, size - off, &r, &used) != 0) {
            break;
        }
        /* Touch every byte the record claims, so ASan checks the bounds. */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < r.json_len; i++) {
            sink ^= (uint8_t)r.json[i];
        }
        for (int p = 0; p < r.n_parts; p++) {
            if (r.parts[p].size) {
                sink ^= r.parts[p].data[0] ^ r.parts[p].data[r.parts[p].size - 1];
            }
        }
        (void)sink;
        if (used == 0 || used > size - off) {
            __builtin_trap();
        }
        off += used;
    }
    return 0;
}
