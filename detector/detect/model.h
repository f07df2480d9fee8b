/*
 * Object-detector models: the descriptor (models/NAME.yaml) and the files it names.
 *
 * A descriptor says which files make the model (with sha256 and upstream URL), how an image is
 * turned into the network input, how the output rows are laid out, the default thresholds, the
 * class names in output order and the role of each class for the rules (vehicle, nonmotor,
 * person, stall_cue, other).
 *
 * Where things are found:
 *   descriptor  $STREETORDER_MODELS_DIR/NAME.yaml, else SO_MODELS_DIR/NAME.yaml (the source
 *               tree's models/, compiled in: works from any build dir and any cwd);
 *   files       the first of these folders that holds the weights file:
 *                 1. detector.weights_dir (the folder itself, or its NAME/ subfolder),
 *                 2. $STREETORDER_MODELS/NAME/ (default ${XDG_DATA_HOME:-~/.local/share}/
 *                    streetorder/models/NAME/, where scripts/fetch-models puts them),
 *                 3. $STREETORDER_ASSETS/models/NAME/ (default SO_SOURCE_DIR/../shared/assets).
 *               Every file of the model must be in that folder and match its sha256; a
 *               corrupt file is an error, never a reason to look further.
 *
 * Ownership: a descriptor is owned by the caller (so_model_destroy). It is immutable after
 * so_model_open()/so_model_locate() returned, so any thread may read it.
 *
 * Errors: functions take a caller buffer `err` (errlen bytes, may be 0 / NULL) that gets a
 * human message: descriptor problems as "FILE:LINE:COL: key: what was expected" (several
 * separated by '\n'), file problems naming the file and the folders searched.
 */
#ifndef SO_DETECT_MODEL_H
#define SO_DETECT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

enum so_role {
    SO_ROLE_OTHER = 0,
    SO_ROLE_VEHICLE,
    SO_ROLE_NONMOTOR,
    SO_ROLE_PERSON,
    SO_ROLE_STALL_CUE,
    SO_ROLE_COUNT,
};

/* Bit of a role in a role mask (struct so_detect_filter.roles). */
#define SO_ROLE_BIT(r) (1u << (unsigned)(r))

/* "other", "vehicle", "nonmotor", "person", "stall_cue"; NULL when out of range. */
const char *so_role_name(enum so_role role);
/* Parse a role name; false when unknown. */
bool so_role_parse(const char *name, enum so_role *out);

enum so_model_file_kind {
    SO_MODEL_CFG = 0,   /* darknet network description */
    SO_MODEL_WEIGHTS,
    SO_MODEL_NAMES,     /* class names, one per line */
    SO_MODEL_FILE_COUNT,
};

struct so_model_file {
    char *name;         /* file name inside the model folder */
    char sha256[65];    /* lowercase hex */
    long long size;     /* bytes; -1 when the descriptor does not say */
    char *url;          /* upstream download URL; NULL when none */
    char *path;         /* full path once located; NULL before */
};

struct so_model_class {
    char *name;         /* as the network calls it (darknet spelling) */
    int report_id;      /* class reported for it: itself, or its alias target */
    enum so_role role;  /* role of the reported class */
};

struct so_model_desc {
    char *name;
    char *desc_path;            /* the descriptor file */
    char *format;               /* "darknet" */
    char *source_repo, *source_commit, *licence;    /* provenance; NULL when absent */
    struct so_model_file files[SO_MODEL_FILE_COUNT];
    char *dir;                  /* folder the files were found in; NULL before locating */
    int input_width, input_height;
    double scale;               /* pixel multiplier */
    double mean[3];
    bool swap_rb;
    double score_threshold;     /* default minimum class score, (0,1) */
    double nms_threshold;       /* IoU, (0,1] */
    struct so_model_class *classes;     /* in output order */
    int n_classes;
};

/*
 * The descriptor folder: $STREETORDER_MODELS_DIR when set and non-empty, else SO_MODELS_DIR.
 * The returned string is the environment's or a constant: do not free.
 */
const char *so_model_descriptor_dir(void);

/*
 * Parse and validate a descriptor file. Returns NULL on error (message in err). The result is
 * not located yet (files[].path and dir are NULL).
 */
struct so_model_desc *so_model_load_file(const char *path, char *err, size_t errlen);

/* Parse the descriptor NAME.yaml of so_model_descriptor_dir(). NAME may hold letters, digits,
 * '.', '_' and '-' only (no paths). NULL on error. */
struct so_model_desc *so_model_load(const char *name, char *err, size_t errlen);

/*
 * Find the model's files (see the search order above), check each one's size, sha256 and,
 * for the names file, that it lists the descriptor's classes; fill files[].path and dir.
 * `weights_dir` is detector.weights_dir (NULL when not configured). Reads the weights once
 * (a few MB). Returns 0, or -ENOENT (not found anywhere), -EIO (unreadable), -EBADMSG (size,
 * checksum or class list mismatch).
 */
int so_model_locate(struct so_model_desc *desc, const char *weights_dir, char *err,
                    size_t errlen);

/* so_model_load() then so_model_locate(); NULL on any error. */
struct so_model_desc *so_model_open(const char *name, const char *weights_dir, char *err,
                                    size_t errlen);

/*
 * For `streetorder check`: is model NAME usable (descriptor valid, every file present and
 * intact)? 0 when it is, or when name is NULL (no model configured: class-agnostic, nothing to
 * check); a negative errno-style code and a message in err otherwise.
 */
int so_model_check(const char *name, const char *weights_dir, char *err, size_t errlen);

/* Free; accepts NULL. */
void so_model_destroy(struct so_model_desc *desc);

/* Class index of `name` in the output order; -1 when absent. */
int so_model_class_index(const struct so_model_desc *desc, const char *name);

#endif
