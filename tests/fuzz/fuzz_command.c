/* libFuzzer target: a command from the platform as the delivery thread parses it: the id
 * check, then the JSON (the first byte chooses how much of the input is the id). Whatever the
 * input, a refusal has a message and an accepted command a window that is open. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t id_len = data[0] % (SO_COMMAND_ID_MAX + 2);
    if (id_len > size - 1) {
        id_len = size - 1;
    }
    const char *idp = (const char *)data + 1;
    if (!so_command_id_valid(idp, id_len)) {
        return 0;
    }
    char id[SO_COMMAND_ID_MAX + 1];
    memcpy(id, idp, id_len);
    id[id_len] = '\0';
    struct so_command c;
    char err[256] = "";
    const double now = 1765000000.0;
    int rc = so_command_parse(id, (const char *)data + 1 + id_len, size - 1 - id_len, now, &c,
                              err, sizeof(err));
    if ((rc < 0 && !err[0]) || (rc == 0 && c.kind != SO_COMMAND_VERIFY && c.until_wall <= now)) {
        __builtin_trap();
    }
    return 0;
}
