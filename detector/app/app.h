/* The subcommands of the streetorder binary. Each returns the process exit status. */
#ifndef SO_APP_APP_H
#define SO_APP_APP_H

#include <stdbool.h>

struct so_run_opts {
    const char *config_path;
    const char *events_path;    /* --events, NULL if absent */
    bool fast;                  /* --fast */
    bool quiet;                 /* --quiet: no console lines */
};

int so_cmd_run(const struct so_run_opts *opts);

#endif
