/* libFuzzer target: the YAML config loader (libyaml -> validated structs, every error with
 * file:line:col). The input is written to a private file because the loader takes a path. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/so-fuzz-config-%d.yaml", (int)getpid());
        so_log_set_level(SO_LOG_ERROR);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        return 0;
    }
    fwrite(data, 1, size, f);
    fclose(f);
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(path, &errors);
    if (cfg) {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            so_config_print_summary(cfg, null);
            fclose(null);
        }
    } else {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            so_config_errors_print(&errors, null);
            fclose(null);
        }
    }
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
    return 0;
}
