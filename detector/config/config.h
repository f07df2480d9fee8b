/*
 * Configuration: a YAML file (libyaml) loaded into immutable, typed structs, validated once.
 *
 * Ownership: so_config_load() returns a tree owned by the caller, freed with
 * so_config_destroy(). Nothing in it changes after load, so any thread may read it without
 * locks while the caller keeps it alive (reload = load a whole new one, then swap a pointer).
 *
 * Errors: every problem found is appended to a so_config_errors list with file, line and
 * column (1-based, of the offending node) and the key path, e.g.
 *   cameras.yaml:12:9: cameras[0].zones[1].dwell_s: expected a number from 1 to 86400, got "0"
 * Loading reports every error in one pass; the config is returned only when there was none.
 */
#ifndef SO_CONFIG_CONFIG_H
#define SO_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "geometry.h"
#include "schedule.h"

enum so_zone_kind {
    SO_ZONE_ILLEGAL_PARKING = 0,
    SO_ZONE_NONMOTOR_PARKING,
    SO_ZONE_SIDEWALK_OCCUPIED,
    SO_ZONE_STALL_ENCROACHMENT,
    SO_ZONE_KIND_COUNT,
};

/* "illegal_parking", ... ; NULL for an out-of-range value. */
const char *so_zone_kind_name(enum so_zone_kind kind);
/* Parse a kind name; returns false if unknown. */
bool so_zone_kind_parse(const char *name, enum so_zone_kind *out);

enum so_decode_mode {
    SO_DECODE_FULL = 0,
    SO_DECODE_KEYFRAMES,
};

/* A zone: each key's type, range and default is its row in so_zone_fields (fields.c); a new
 * key is a field here plus a row there. */
struct so_zone_cfg {
    char *id;
    enum so_zone_kind kind;
    struct so_polygon polygon;      /* frame fractions, validated: >= 3 points, simple, in [0,1] */
    double dwell_s;
    double warn_s;                  /* 0 = no warning; else a warning after this, < dwell_s */
    double min_occupancy;           /* share of the zone that must be covered */
    double report_interval_s;       /* 0 = no updates */
    double clear_s;
    struct so_schedule schedule;    /* always enforced when the key is absent */
    char *grid;                     /* NULL when absent; else 15 digits */
    char *address;                  /* NULL when absent */
    char *category;                 /* standard code override ("0504"...), NULL = kind default */
    /* Object filters, used with an object detector: */
    char **classes;                 /* detector class names that count here; NULL = the kind's */
    size_t n_classes;
    double min_score;               /* 0 = the model's threshold */
    int min_box, max_box;           /* box side limits in analysis pixels, 0 = none */
    bool require_class;             /* vehicles only when the network labels them (no
                                     * `unclassified` objects at rest) */
    int line, column;               /* where the zone is defined, for messages */
};

/* A camera's `analysis` mapping; rows in so_analysis_fields (fields.c). */
struct so_analysis_cfg {
    double fps;         /* as written; 0 (absent) = the rate the zones need */
    int width;          /* never upscaled */
    double detect_fps;
    double rate;        /* what is analysed: fps, or when 0 so_analysis_fps_for_zones() */
};

struct so_camera_cfg {
    char *id;
    char *url;                  /* as written (may hold credentials: never log it raw) */
    char *resolved_url;         /* relative paths resolved against the config file's folder */
    char *evidence_url;         /* NULL when absent; resolved like url */
    enum so_decode_mode decode; /* default full */
    struct so_analysis_cfg analysis;
    struct so_zone_cfg *zones;
    size_t n_zones;             /* >= 1 */
    struct so_polygon *privacy_masks; /* blacked out in every image the detector writes */
    size_t n_privacy_masks;
    int line, column;
};

struct so_deliver_cfg {
    char *endpoint;     /* NULL = no reliable delivery */
    double drain_s;     /* default 10 */
    double quota_mb;    /* outbox disk quota in MiB, default 1024, (0, 65536] */
    double resend_s;    /* first resend timeout of an unacknowledged event, default 5 (doubles
                           on each resend up to 60) */
    bool fsync;         /* fsync the outbox after every append, default true */
    /* CURVE (Z85, 40 characters each), all NULL = plain TCP. server_key is the platform's
     * public key; public_key/secret_key the detector's pair (`streetorder keygen`). When
     * server_key is set, the pair is required. */
    char *server_key;
    char *public_key;
    char *secret_key;
};

struct so_categories;       /* categories.h */
struct so_auth;             /* http/auth.h */

struct so_config {
    char *path;             /* the file loaded, as given */
    char *dir;              /* its folder (for resolving relative urls) */
    /* detector: */
    char *detector_id;      /* default: host name */
    char *state_dir;        /* default: /var/lib/streetorder as root, else
                               $XDG_STATE_HOME/streetorder (~/.local/state/streetorder) */
    char *model;            /* NULL = class-agnostic */
    char *backend;          /* detector.backend: "xnnpack" or "opencv" (so_detect_backend_parse);
                               NULL = the build's default */
    char *weights_dir;      /* NULL when absent */
    char *timezone;         /* NULL = the system's */
    char *categories_path;  /* the category mapping file (resolved against the config's folder);
                               default: the source tree's config/categories.yaml when it
                               exists, else NULL = standard codes and names only */
    struct so_categories *categories; /* loaded from categories_path, NULL when none */
    /* outputs: (relative paths are resolved against state_dir by the outputs module) */
    char *jsonl;            /* NULL = none */
    char *publish;          /* ZeroMQ PUB endpoint, NULL = none */
    char *evidence_dir;     /* default: NULL = "<state_dir>/evidence" */
    struct so_deliver_cfg deliver;
    /* http: */
    char *http_listen;      /* NULL = no HTTP server */
    char *http_auth_path;   /* http.auth, resolved against the config's folder; NULL = none */
    struct so_auth *http_auth; /* loaded from http_auth_path (http/auth.h); NULL = no
                                  credentials asked */
    char *http_tls_cert;    /* PEM files, resolved; both or neither; NULL = plain HTTP */
    char *http_tls_key;
    struct so_camera_cfg *cameras;
    size_t n_cameras;       /* >= 1 */
};

struct so_config_error {
    char *file;
    int line, column;       /* 1-based; 0 when not tied to a place (e.g. unreadable file) */
    char *key;              /* key path, e.g. "cameras[0].zones[1].polygon"; "" for the file */
    char *message;          /* what was expected */
};

struct so_config_errors {
    struct so_config_error *items;
    size_t n;
};

/*
 * Load and validate `path`, and the category mapping file it names (detector.categories). On
 * success returns the config and leaves `errors` empty; on any error returns NULL and `errors`
 * lists them all (in file order: the config's first, then the mapping file's). `errors` must be
 * zero-initialised by the caller and released with so_config_errors_finish().
 */
struct so_config *so_config_load(const char *path, struct so_config_errors *errors);

/* Free a config. Accepts NULL. */
void so_config_destroy(struct so_config *cfg);

/* Append an error (strings are copied; `key` "" when not tied to a key, `line` 0 when not
 * tied to a place). Aborts when memory is out. */
void so_config_errors_add(struct so_config_errors *errors, const char *file, int line,
                          int column, const char *key, const char *message);

/* Release the items of an error list (the struct itself is the caller's). */
void so_config_errors_finish(struct so_config_errors *errors);

/* Print each error as "FILE:LINE:COL: KEY: MESSAGE\n" ("FILE: MESSAGE" when line is 0,
 * "FILE:LINE:COL: MESSAGE" when the key is "", e.g. a YAML syntax error). */
void so_config_errors_print(const struct so_config_errors *errors, FILE *out);

/* Print a human summary: detector id, state dir, outputs, each camera (redacted url, analysis
 * settings) and each zone (kind, points, dwell, schedule, grid, address). */
void so_config_print_summary(const struct so_config *cfg, FILE *out);

/*
 * The analysis rate a camera's zones need when `analysis.fps` is absent (or 0): at least
 * SO_FRAMES_PER_SHORTEST analysed frames in the shortest time a zone asks for (its dwell_s, or
 * its warn_s when set), between SO_ANALYSIS_FPS_MIN and SO_ANALYSIS_FPS_MAX, and never fewer
 * frames than the network's looks (detect_fps). Why it is safe: every timer of the analysis
 * runs on media time, not frame counts (the static model's ages, the rules' confirm, clear and
 * ring periods, the detector's ticks), so fewer frames only coarsen when a thing is seen. The
 * floor is the static model's own (so_static_params_min_fps(): its warm-up samples and its
 * "moving" test's time constant; test_config checks they agree): at 1 fps it compared single
 * noisy frames and a speck of noise after an exposure step became a false sidewalk episode.
 * docs/performance.md has the accuracy table.
 */
#define SO_FRAMES_PER_SHORTEST 30.0
#define SO_ANALYSIS_FPS_MIN 2.0
#define SO_ANALYSIS_FPS_MAX 5.0
double so_analysis_fps_for_zones(const struct so_zone_cfg *zones, size_t n_zones,
                                 double detect_fps);

/* Look up a camera / zone by id; NULL if absent. */
const struct so_camera_cfg *so_config_find_camera(const struct so_config *cfg, const char *id);
const struct so_zone_cfg *so_camera_find_zone(const struct so_camera_cfg *cam, const char *id);

/*
 * Comparisons for reloading (detector/app/run.c). Places in the file (line, column) never count.
 * - so_zone_cfg_equal: every setting of the zone (every row of so_zone_fields).
 * - so_camera_stream_equal: what needs the camera's source and analysis restarted when it
 *   changes: id, resolved url and evidence url, decode, analysis.*, privacy masks.
 * - so_camera_zones_equal: the same zones, in the same order, each so_zone_cfg_equal.
 * - so_config_restart_changes: the keys whose value a running detector cannot change without a
 *   restart (detector.id, state_dir, model, weights_dir, timezone, categories, outputs,
 *   http.listen, auth, tls_cert, tls_key) and that differ between `a` and `b`: up to `max`
 *   key names (static strings) go to `keys`; returns how many differ.
 * All accept configs from two different loads; none allocates.
 */
bool so_zone_cfg_equal(const struct so_zone_cfg *a, const struct so_zone_cfg *b);
bool so_camera_stream_equal(const struct so_camera_cfg *a, const struct so_camera_cfg *b);
bool so_camera_zones_equal(const struct so_camera_cfg *a, const struct so_camera_cfg *b);
size_t so_config_restart_changes(const struct so_config *a, const struct so_config *b,
                                 const char **keys, size_t max);

#endif
