/*
 * Why this file exists: the outputs' writes to local files, in one place. A record line is one
 * write(2) (so_fs_write_all on a regular file), so a crash never leaves half a record in the
 * JSONL files and readers that tail them never see a partial line. Evidence files are written
 * before the record goes anywhere (events/outputs.c), so a record never names a missing image.
 *
 * The seq file is a best-effort high-water mark (tmp + rename, no fsync): with delivery on,
 * the outbox journal is the source of truth and the greater of the two wins at start.
 */
#include "sink_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "outputs.h"

struct so_sink_files {
    int events_fd, jsonl_fd;
    char *evidence_dir;
    char *seq_path;
};

void so_sink_files_destroy(struct so_sink_files *f)
{
    if (!f) {
        return;
    }
    if (f->events_fd >= 0) {
        close(f->events_fd);
    }
    if (f->jsonl_fd >= 0) {
        close(f->jsonl_fd);
    }
    free(f->evidence_dir);
    free(f->seq_path);
    free(f);
}

int so_sink_files_open(struct so_sink_files *f, const struct so_config *cfg,
                       const char *events_path)
{
    if (events_path) {
        f->events_fd = so_fs_open_with_parent(events_path, O_TRUNC);
        if (f->events_fd < 0) {
            so_err("outputs", "cannot create %s: %s", events_path, strerror(errno));
            return -1;
        }
    }
    if (cfg->jsonl) {
        char *path = so_outputs_resolve(cfg, cfg->jsonl);
        f->jsonl_fd = so_fs_open_with_parent(path, O_APPEND);
        if (f->jsonl_fd < 0) {
            so_err("outputs", "cannot open %s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        free(path);
    }
    return 0;
}

struct so_sink_files *so_sink_files_create(const struct so_config *cfg)
{
    struct so_sink_files *f = calloc(1, sizeof(*f));
    if (!f) {
        return NULL;
    }
    f->events_fd = f->jsonl_fd = -1;
    int rc = so_fs_mkdirs(cfg->state_dir);
    if (rc < 0) {
        so_err("outputs", "cannot create state directory %s: %s", cfg->state_dir, strerror(-rc));
        goto fail;
    }
    f->evidence_dir = cfg->evidence_dir ? so_outputs_resolve(cfg, cfg->evidence_dir)
                                        : so_outputs_resolve(cfg, "evidence");
    rc = so_fs_mkdirs(f->evidence_dir);
    if (rc < 0) {
        so_err("outputs", "cannot create evidence directory %s: %s", f->evidence_dir,
               strerror(-rc));
        goto fail;
    }
    f->seq_path = so_outputs_resolve(cfg, "seq");
    return f;
fail:
    so_sink_files_destroy(f);
    return NULL;
}

unsigned long long so_sink_files_seq_load(const struct so_sink_files *f)
{
    unsigned long long seq = 0;
    FILE *fp = fopen(f->seq_path, "r");
    if (fp) {
        if (fscanf(fp, "%llu", &seq) != 1) {
            seq = 0;
        }
        fclose(fp);
    }
    return seq;
}

void so_sink_files_seq_save(const struct so_sink_files *f, unsigned long long seq)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->seq_path);
    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        return;
    }
    fprintf(fp, "%llu\n", seq);
    if (fclose(fp) == 0) {
        rename(tmp, f->seq_path);
    }
}

void so_sink_files_evidence(struct so_sink_files *f, const struct so_event *ev)
{
    for (int i = 0; i < ev->n_evidence; i++) {
        const struct so_evidence *e = &ev->evidence[i];
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", f->evidence_dir, e->file);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || !so_fs_write_all(fd, e->jpeg, e->size)) {
            so_err("outputs", "cannot write evidence %s: %s", path, strerror(errno));
        }
        if (fd >= 0) {
            close(fd);
        }
    }
}

void so_sink_files_line(struct so_sink_files *f, const char *line, size_t len)
{
    if (f->events_fd >= 0 && !so_fs_write_all(f->events_fd, line, len)) {
        so_err("outputs", "cannot write the events file: %s", strerror(errno));
    }
    if (f->jsonl_fd >= 0 && !so_fs_write_all(f->jsonl_fd, line, len)) {
        so_err("outputs", "cannot write the JSONL file: %s", strerror(errno));
    }
}
