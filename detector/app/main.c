/*
 * streetorder: command-line entry point. Parses the subcommand and its options (the contract
 * in ARCHITECTURE's "Command line"), nothing else: each subcommand lives in its own file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "model.h"
#include "so_build_config.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: streetorder run   -c FILE [--fast] [--events OUT.jsonl] [--quiet] [-v]\n"
            "       streetorder check -c FILE\n"
            "       streetorder keygen\n"
            "       streetorder --version\n"
            "\n"
            "run     detect violations on the configured cameras and publish episodes\n"
            "          --fast     read files as fast as the CPU allows, never drop a frame\n"
            "          --events   write every event record to OUT.jsonl (truncated at start)\n"
            "          --quiet    no human-readable line per event on stdout\n"
            "check   validate a configuration, print a summary (exit 1 on any error)\n"
            "keygen  print a CURVE key pair for the delivery channel\n");
}

static int cmd_check(const char *path)
{
    struct so_config_errors errors = {0};
    struct so_config *cfg = so_config_load(path, &errors);
    if (!cfg) {
        so_config_errors_print(&errors, stderr);
        fprintf(stderr, "%s: %zu error%s\n", path, errors.n, errors.n == 1 ? "" : "s");
        so_config_errors_finish(&errors);
        return 1;
    }
    char err[2048];
    if (so_model_check(cfg->model, cfg->weights_dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: detector.model: %s\n", path, err);
        so_config_destroy(cfg);
        so_config_errors_finish(&errors);
        return 1;
    }
    so_config_print_summary(cfg, stdout);
    if (!cfg->model) {
        printf("no model: detection is class-agnostic (static objects)\n");
    }
    printf("%s: OK\n", path);
    so_config_destroy(cfg);
    so_config_errors_finish(&errors);
    return 0;
}

static int cmd_keygen(void)
{
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "streetorder: CURVE is not available in this libzmq: %s\n",
                zmq_strerror(zmq_errno()));
        return 1;
    }
    printf("public: %s\nsecret: %s\n", pub, sec);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("streetorder %s\n", SO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"fast", no_argument, NULL, 'f'},
        {"events", required_argument, NULL, 'e'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct so_run_opts ro = {0};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "c:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ro.config_path = optarg;
            break;
        case 'f':
            ro.fast = true;
            break;
        case 'e':
            ro.events_path = optarg;
            break;
        case 'q':
            ro.quiet = true;
            break;
        case 'v':
            so_log_set_level(SO_LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "streetorder: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "keygen")) {
        return cmd_keygen();
    }
    if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0) {
        fprintf(stderr, "streetorder: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!ro.config_path) {
        fprintf(stderr, "streetorder %s: -c FILE is required\n", cmd);
        return 2;
    }
    if (!strcmp(cmd, "check")) {
        return cmd_check(ro.config_path);
    }
    return so_cmd_run(&ro);
}
