/*
 * Why this file exists: a dismissal the operator made yesterday must still hold after a
 * power cut, and a command the platform resends (it never saw our answer) must not act twice.
 * Both need a record on disk before the answer goes out.
 *
 * Design: JSON lines, appended in one write(2) and fsynced (the rate of commands is that of
 * operators' clicks, so an fsync each is nothing); the whole journal is also kept in memory as
 * a jansson array and searched linearly (entries live days, not years: the file is compacted
 * when it is opened). A crash mid-write leaves at most a torn last line, which is skipped.
 */
#include "cmdjournal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define WHO "commands"

struct so_cmdjournal {
    pthread_mutex_t lock;
    char *path;
    int fd;
    json_t *entries;
};

static bool expired(json_t *e, double now)
{
    json_t *until = json_object_get(e, "until");
    return json_is_number(until) && json_number_value(until) + SO_CMDJOURNAL_KEEP_S < now;
}

/* Read every line into j->entries; *dropped counts the expired and the unreadable ones. */
static void load(struct so_cmdjournal *j, FILE *in, double now, int *dropped)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        lineno++;
        json_t *e = n <= SO_CMDJOURNAL_LINE_MAX ? json_loadb(line, (size_t)n, 0, NULL) : NULL;
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "id"))) {
            so_warn(WHO, "%s:%d: not a journal entry (torn by a crash?): skipped", j->path, lineno);
            json_decref(e);
            (*dropped)++;
            continue;
        }
        if (expired(e, now)) {
            json_decref(e);
            (*dropped)++;
            continue;
        }
        json_array_append_new(j->entries, e);
    }
    free(line);
}

static int write_line(int fd, json_t *e)
{
    char *s = json_dumps(e, JSON_COMPACT);
    if (!s) {
        return -ENOMEM;
    }
    size_t len = strlen(s);
    s[len] = '\n';      /* json_dumps' NUL becomes the newline: one write for the line */
    bool ok = so_fs_write_all(fd, s, len + 1);
    int err = errno;
    free(s);
    return ok ? 0 : -err;
}

/* Rewrite the file with the entries kept: temporary file, fsync, rename. */
static int rewrite(struct so_cmdjournal *j)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(j->entries); i++) {
        rc = write_line(fd, json_array_get(j->entries, i));
    }
    if (rc == 0 && fsync(fd) < 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0 && rename(tmp, j->path) < 0) {
        rc = -errno;
    }
    if (rc < 0) {
        unlink(tmp);
    }
    return rc;
}

struct so_cmdjournal *so_cmdjournal_open(const char *path, double now_wall)
{
    struct so_cmdjournal *j = calloc(1, sizeof(*j));
    if (!j) {
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->path = strdup(path);
    j->fd = -1;
    j->entries = json_array();
    int dropped = 0;
    FILE *in = fopen(path, "re");
    if (in) {
        load(j, in, now_wall, &dropped);
        fclose(in);
    }
    int rc = dropped ? rewrite(j) : 0;
    if (rc == 0) {
        j->fd = so_fs_open_with_parent(path, O_APPEND);
        rc = j->fd < 0 ? -errno : 0;
    }
    if (rc < 0) {
        so_err(WHO, "cannot write the command journal %s: %s", path, strerror(-rc));
        so_cmdjournal_close(j);
        return NULL;
    }
    so_info(WHO, "command journal %s: %zu command%s remembered", path,
            json_array_size(j->entries), json_array_size(j->entries) == 1 ? "" : "s");
    return j;
}

int so_cmdjournal_append(struct so_cmdjournal *j, json_t *entry)
{
    pthread_mutex_lock(&j->lock);
    int rc = write_line(j->fd, entry);
    if (rc == 0 && fdatasync(j->fd) < 0) {
        rc = -errno;
    }
    if (rc == 0) {
        json_array_append(j->entries, entry);
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

json_t *so_cmdjournal_find(struct so_cmdjournal *j, const char *id)
{
    json_t *found = NULL;
    pthread_mutex_lock(&j->lock);
    size_t i;
    json_t *e;
    json_array_foreach(j->entries, i, e) {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (eid && strcmp(eid, id) == 0) {
            found = json_incref(e);
            break;
        }
    }
    pthread_mutex_unlock(&j->lock);
    return found;
}

json_t *so_cmdjournal_entries(struct so_cmdjournal *j)
{
    pthread_mutex_lock(&j->lock);
    json_t *copy = json_copy(j->entries);
    pthread_mutex_unlock(&j->lock);
    return copy;
}

void so_cmdjournal_close(struct so_cmdjournal *j)
{
    if (!j) {
        return;
    }
    if (j->fd >= 0) {
        close(j->fd);
    }
    json_decref(j->entries);
    pthread_mutex_destroy(&j->lock);
    free(j->path);
    free(j);
}
