/*
 * Why this file exists: an event the platform never receives is a case never opened, so every
 * event goes to disk before it is offered to the network, and stays there until the platform
 * has acknowledged it, across platform outages, detector crashes and restarts.
 *
 * Design:
 * - Append-only segment files. A record carries its length and a CRC-32 over seq + payload,
 *   so recovery can tell a complete record from a torn one (a crash or a full disk in the
 *   middle of a write) and never hands garbage to the network. The first bad record of a
 *   segment ends it: everything from there is truncated, loudly.
 * - A failed append (quota, ENOSPC, EIO) is truncated back to where it started, so the journal
 *   is never left with a half record behind a good one. If even that truncation fails, the
 *   segment is sealed and the next append starts a new one; recovery trims the torn tail.
 * - The acknowledged cursor is a small text file replaced by rename(2). It is fsynced only
 *   before segment files are deleted (losing a newer cursor in a power cut costs resends,
 *   which the receiver dedupes; deleting records before the cursor that covers them is
 *   durable could cost the seq high-water mark).
 * - An in-memory index (seq -> segment, offset, length, time added) of the pending records:
 *   40 bytes each, so hours of outage cost little memory and records are read back from disk
 *   on demand. The time added feeds the "oldest unacknowledged" metric; records recovered at
 *   start take their segment file's modification time (an upper bound: the age shown is at
 *   least their true age minus the segment's span).
 * - fdatasync after each append by default: an event written to the --events file is then
 *   recoverable after a power cut, not just after a crash. Configurable (outputs.deliver.fsync)
 *   for hosts where the disk cannot keep up.
 * One mutex guards everything; appends hold it through their write and fsync, which is fine
 * because only the delivery thread contends and it is never on the analysis path.
 */
#include "outbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define WHO "outbox"

struct segment {
    uint64_t first;         /* seq of the name (first record appended to it) */
    uint64_t last;          /* last seq in it, 0 when empty */
    uint64_t bytes;
    size_t pending;         /* records not acknowledged yet */
};

struct entry {
    uint64_t seq;
    uint64_t off;
    uint32_t len;           /* whole record, header included */
    uint32_t seg;           /* index into segs, adjusted as segments are removed */
    bool acked;
    double added;           /* Unix time appended (recovered: the segment's mtime) */
};

struct so_outbox {
    pthread_mutex_t lock;
    char *dir;
    uint64_t quota, seg_max;
    bool fsync;
    struct segment *segs;
    size_t n_segs;
    int active_fd;          /* the last segment, open for appends; -1 = start a new one */
    struct entry *ents;     /* pending records in seq order: ents[head..n_ents) */
    size_t head, n_ents, cap_ents;
    uint64_t cursor, last_seq, total_bytes;
    uint64_t scan_seq;      /* recovery: last seq seen in the segments so far */
};

/* --- CRC-32 ---------------------------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
}

uint32_t so_crc32(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) {
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* --- encoding -------------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int so_outbox_parse(const uint8_t *buf, size_t len, struct so_outbox_record *out,
                    size_t *consumed)
{
    memset(out, 0, sizeof(*out));
    if (len < 4) {
        return len == 0 || memcmp(buf, SO_OUTBOX_MAGIC, len) == 0 ? -EAGAIN : -EBADMSG;
    }
    if (memcmp(buf, SO_OUTBOX_MAGIC, 4) != 0) {
        return -EBADMSG;
    }
    if (len < SO_OUTBOX_HEADER) {
        return -EAGAIN;
    }
    uint32_t plen = get32(buf + 4);
    if (plen > SO_OUTBOX_MAX_RECORD || plen < 8) {
        return -EBADMSG;
    }
    if (len - SO_OUTBOX_HEADER < plen) {
        return -EAGAIN;
    }
    uint32_t crc = so_crc32(0, buf + 12, 8 + (size_t)plen);
    if (crc != get32(buf + 8)) {
        return -EBADMSG;
    }
    const uint8_t *p = buf + SO_OUTBOX_HEADER, *end = p + plen;
    out->seq = get64(buf + 12);
    if (out->seq == 0) {
        return -EBADMSG;
    }
    uint32_t jlen = get32(p);
    p += 4;
    if ((size_t)(end - p) < (size_t)jlen + 4) {
        return -EBADMSG;
    }
    out->json = (const char *)p;
    out->json_len = jlen;
    p += jlen;
    uint32_t n = get32(p);
    p += 4;
    if (n > SO_OUTBOX_MAX_PARTS) {
        return -EBADMSG;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 4) {
            return -EBADMSG;
        }
        uint32_t sz = get32(p);
        p += 4;
        if ((size_t)(end - p) < sz) {
            return -EBADMSG;
        }
        out->parts[i].data = p;
        out->parts[i].size = sz;
        p += sz;
    }
    if (p != end) {
        return -EBADMSG;
    }
    out->n_parts = (int)n;
    *consumed = SO_OUTBOX_HEADER + (size_t)plen;
    return 0;
}

/* --- files ----------------------------------------------------------------------------- */

static void seg_path(const struct so_outbox *o, uint64_t first, char *buf, size_t size)
{
    snprintf(buf, size, "%s/seg-%020" PRIu64 ".soj", o->dir, first);
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* pwrite/pread all of `len` bytes at `off`, retrying on EINTR and short transfers. */
static int transfer_full(int fd, uint8_t *buf, size_t len, off_t off, bool writing)
{
    while (len) {
        ssize_t n = writing ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len, off_t off)
{
    return transfer_full(fd, (uint8_t *)buf, len, off, true);
}

static int read_full(int fd, uint8_t *buf, size_t len, off_t off)
{
    return transfer_full(fd, buf, len, off, false);
}

static int save_cursor(struct so_outbox *o, bool durable)
{
    char path[4200], tmp[4200], text[32];
    snprintf(path, sizeof(path), "%s/acked", o->dir);
    snprintf(tmp, sizeof(tmp), "%s/acked.tmp", o->dir);
    int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", o->cursor);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    int rc = write_full(fd, (const uint8_t *)text, (size_t)n, 0);
    if (rc == 0 && durable && fdatasync(fd) < 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -errno;
    }
    if (rc == 0 && durable) {
        fsync_dir(o->dir);
    }
    return rc;
}

static uint64_t load_cursor(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/acked", dir);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1) {
            v = 0;
        }
        fclose(f);
    }
    return v;
}

/* --- index ----------------------------------------------------------------------------- */

static void push_entry(struct so_outbox *o, struct entry e)
{
    if (o->n_ents == o->cap_ents) {
        if (o->head > 0) {   /* compact first */
            memmove(o->ents, o->ents + o->head, (o->n_ents - o->head) * sizeof(*o->ents));
            o->n_ents -= o->head;
            o->head = 0;
        }
        if (o->n_ents == o->cap_ents) {
            o->cap_ents = o->cap_ents ? 2 * o->cap_ents : 256;
            o->ents = realloc(o->ents, o->cap_ents * sizeof(*o->ents));
            if (!o->ents) {
                abort();
            }
        }
    }
    o->ents[o->n_ents++] = e;
    o->segs[e.seg].pending++;
}

static struct entry *find_entry(struct so_outbox *o, uint64_t seq)
{
    size_t lo = o->head, hi = o->n_ents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->ents[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < o->n_ents && o->ents[lo].seq == seq ? &o->ents[lo] : NULL;
}

static void add_segment(struct so_outbox *o, uint64_t first, uint64_t bytes)
{
    o->segs = realloc(o->segs, (o->n_segs + 1) * sizeof(*o->segs));
    if (!o->segs) {
        abort();
    }
    o->segs[o->n_segs++] = (struct segment){.first = first, .bytes = bytes};
    o->total_bytes += bytes;
}

/* Delete segment i (its file and its slot). Entries must not refer to it any more. */
static void remove_segment(struct so_outbox *o, size_t i)
{
    char path[4200];
    seg_path(o, o->segs[i].first, path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT) {
        so_warn(WHO, "cannot delete %s: %s", path, strerror(errno));
    }
    o->total_bytes -= o->segs[i].bytes;
    if (i == o->n_segs - 1 && o->active_fd >= 0) {
        close(o->active_fd);
        o->active_fd = -1;
    }
    memmove(o->segs + i, o->segs + i + 1, (o->n_segs - i - 1) * sizeof(*o->segs));
    o->n_segs--;
    for (size_t k = o->head; k < o->n_ents; k++) {
        if (o->ents[k].seg > i) {
            o->ents[k].seg--;
        }
    }
}

/* Delete every sealed segment with nothing pending (the active one stays). */
static void collect_segments(struct so_outbox *o)
{
    bool cursor_durable = false;
    for (size_t i = 0; i + 1 < o->n_segs || (i < o->n_segs && o->active_fd < 0);) {
        if (o->segs[i].pending == 0) {
            if (!cursor_durable) {
                if (save_cursor(o, true) < 0) {
                    return;     /* keep the files rather than outrun the cursor */
                }
                cursor_durable = true;
            }
            remove_segment(o, i);
        } else {
            i++;
        }
    }
}

/* --- recovery -------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int load_file(const char *path, uint8_t **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    if (!*buf) {
        close(fd);
        return -ENOMEM;
    }
    int rc = read_full(fd, *buf, *len, 0);
    close(fd);
    if (rc < 0) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* Scan one segment into the index; truncate it at the first bad record. */
static int recover_segment(struct so_outbox *o, uint64_t first)
{
    char path[4200];
    seg_path(o, first, path, sizeof(path));
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = load_file(path, &buf, &len);
    if (rc < 0) {
        so_err(WHO, "cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    struct stat st;
    double mtime = stat(path, &st) == 0 ? (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9
                                        : so_time_wall();
    add_segment(o, first, 0);
    size_t si = o->n_segs - 1;
    size_t off = 0;
    while (off < len) {
        struct so_outbox_record r;
        size_t used = 0;
        rc = so_outbox_parse(buf + off, len - off, &r, &used);
        if (rc == 0 && r.seq <= o->scan_seq) {
            rc = -EBADMSG;      /* seq must grow: a stale or foreign record */
        }
        if (rc < 0) {
            so_warn(WHO, "%s: %s record at byte %zu (%zu bytes dropped): journal truncated "
                    "there", path, rc == -EAGAIN ? "torn" : "corrupt", off, len - off);
            if (truncate(path, (off_t)off) < 0) {
                so_err(WHO, "cannot truncate %s: %s", path, strerror(errno));
                free(buf);
                return -errno;
            }
            break;
        }
        o->scan_seq = r.seq;
        if (r.seq > o->last_seq) {
            o->last_seq = r.seq;
        }
        o->segs[si].last = r.seq;
        if (r.seq > o->cursor) {
            push_entry(o, (struct entry){.seq = r.seq, .off = off, .len = (uint32_t)used,
                                         .seg = (uint32_t)si, .added = mtime});
        }
        off += used;
    }
    free(buf);
    o->segs[si].bytes = off;
    o->total_bytes += off;
    return 0;
}

static int recover(struct so_outbox *o)
{
    DIR *d = opendir(o->dir);
    if (!d) {
        return -errno;
    }
    uint64_t *firsts = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned long long first;
        char tail[8];
        if (sscanf(de->d_name, "seg-%20llu.%7s", &first, tail) == 2 && !strcmp(tail, "soj") &&
            strlen(de->d_name) == 28) {
            firsts = realloc(firsts, (n + 1) * sizeof(*firsts));
            if (!firsts) {
                abort();
            }
            firsts[n++] = first;
        }
    }
    closedir(d);
    if (n) {
        qsort(firsts, n, sizeof(*firsts), cmp_u64);
    }
    o->cursor = load_cursor(o->dir);
    o->last_seq = o->cursor;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = recover_segment(o, firsts[i]);
    }
    free(firsts);
    if (rc < 0) {
        return rc;
    }
    /* Continue appending to the last segment unless it is full. */
    if (o->n_segs && o->segs[o->n_segs - 1].bytes < o->seg_max) {
        char path[4200];
        seg_path(o, o->segs[o->n_segs - 1].first, path, sizeof(path));
        o->active_fd = open(path, O_WRONLY | O_CLOEXEC);
        if (o->active_fd < 0) {
            so_err(WHO, "cannot open %s: %s", path, strerror(errno));
            return -errno;
        }
    }
    collect_segments(o);
    return 0;
}

/* --- public ---------------------------------------------------------------------------- */

struct so_outbox *so_outbox_open(const struct so_outbox_opts *opts)
{
    struct so_outbox *o = calloc(1, sizeof(*o));
    if (!o) {
        return NULL;
    }
    pthread_mutex_init(&o->lock, NULL);
    o->active_fd = -1;
    o->dir = strdup(opts->dir);
    o->quota = opts->quota_bytes;
    o->fsync = opts->fsync;
    o->seg_max = opts->segment_bytes ? opts->segment_bytes : 4u << 20;
    if (o->quota && o->seg_max > o->quota / 4) {
        o->seg_max = o->quota / 4 ? o->quota / 4 : 1;
    }
    if (!o->dir) {
        goto fail;
    }
    if (mkdir(o->dir, 0755) < 0 && errno != EEXIST) {
        so_err(WHO, "cannot create %s: %s", o->dir, strerror(errno));
        goto fail;
    }
    int rc = recover(o);
    if (rc < 0) {
        so_err(WHO, "cannot recover the journal in %s: %s", o->dir, strerror(-rc));
        goto fail;
    }
    size_t pending = o->n_ents - o->head;
    so_info(WHO, "%s: %zu event%s pending (acknowledged up to seq %" PRIu64 ", last seq %"
            PRIu64 "), %" PRIu64 " bytes in %zu segment%s", o->dir, pending,
            pending == 1 ? "" : "s", o->cursor, o->last_seq, o->total_bytes, o->n_segs,
            o->n_segs == 1 ? "" : "s");
    return o;
fail:
    so_outbox_close(o);
    return NULL;
}

void so_outbox_close(struct so_outbox *o)
{
    if (!o) {
        return;
    }
    if (o->active_fd >= 0) {
        close(o->active_fd);
    }
    free(o->segs);
    free(o->ents);
    free(o->dir);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

uint64_t so_outbox_last_seq(struct so_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    uint64_t v = o->last_seq;
    pthread_mutex_unlock(&o->lock);
    return v;
}

uint64_t so_outbox_acked(struct so_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    uint64_t v = o->cursor;
    pthread_mutex_unlock(&o->lock);
    return v;
}

size_t so_outbox_pending(struct so_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = 0;
    for (size_t i = o->head; i < o->n_ents; i++) {
        n += !o->ents[i].acked;
    }
    pthread_mutex_unlock(&o->lock);
    return n;
}

double so_outbox_oldest_age(struct so_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    double age = 0;
    for (size_t i = o->head; i < o->n_ents; i++) {
        if (!o->ents[i].acked) {
            age = so_time_wall() - o->ents[i].added;
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return age > 0 ? age : 0;
}

uint64_t so_outbox_bytes(struct so_outbox *o)
{
    pthread_mutex_lock(&o->lock);
    uint64_t v = o->total_bytes;
    pthread_mutex_unlock(&o->lock);
    return v;
}

static int open_new_segment(struct so_outbox *o, uint64_t first)
{
    char path[4200];
    seg_path(o, first, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = -errno;
        so_err(WHO, "cannot create %s: %s", path, strerror(errno));
        return rc;
    }
    if (o->fsync) {
        fsync_dir(o->dir);
    }
    o->active_fd = fd;
    add_segment(o, first, 0);
    return 0;
}

static int append_locked(struct so_outbox *o, uint64_t seq, const uint8_t *rec, size_t len)
{
    if (o->active_fd >= 0 && o->segs[o->n_segs - 1].bytes + len > o->seg_max &&
        o->segs[o->n_segs - 1].bytes > 0) {
        close(o->active_fd);    /* seal it */
        o->active_fd = -1;
        collect_segments(o);
    }
    if (o->quota && o->total_bytes + len > o->quota) {
        /* The active segment may hold only acknowledged records: seal and drop it. */
        if (o->active_fd >= 0 && o->segs[o->n_segs - 1].pending == 0) {
            close(o->active_fd);
            o->active_fd = -1;
            collect_segments(o);
        }
        if (o->total_bytes + len > o->quota) {
            return -EDQUOT;
        }
    }
    if (o->active_fd < 0) {
        int rc = open_new_segment(o, seq);
        if (rc < 0) {
            return rc;
        }
    }
    struct segment *s = &o->segs[o->n_segs - 1];
    int rc = write_full(o->active_fd, rec, len, (off_t)s->bytes);
    if (rc == 0 && o->fsync && fdatasync(o->active_fd) < 0) {
        rc = -errno;
    }
    if (rc < 0) {
        /* Never leave a partial record behind: cut back to where this append started. */
        if (ftruncate(o->active_fd, (off_t)s->bytes) < 0) {
            so_err(WHO, "cannot truncate a failed append: %s; sealing the segment",
                   strerror(errno));
            close(o->active_fd);
            o->active_fd = -1;
        }
        return rc;
    }
    push_entry(o, (struct entry){.seq = seq, .off = s->bytes, .len = (uint32_t)len,
                                 .seg = (uint32_t)(o->n_segs - 1), .added = so_time_wall()});
    s->bytes += len;
    s->last = seq;
    o->total_bytes += len;
    o->last_seq = seq;
    return 0;
}

int so_outbox_append(struct so_outbox *o, uint64_t seq, const char *json, size_t json_len,
                     const struct so_outbox_part *parts, int n_parts)
{
    if (n_parts < 0 || n_parts > SO_OUTBOX_MAX_PARTS || seq == 0) {
        return -EINVAL;
    }
    size_t plen = 8 + json_len;
    for (int i = 0; i < n_parts; i++) {
        plen += 4 + parts[i].size;
    }
    if (plen > SO_OUTBOX_MAX_RECORD) {
        return -EINVAL;
    }
    size_t len = SO_OUTBOX_HEADER + plen;
    uint8_t *rec = malloc(len);
    if (!rec) {
        return -ENOMEM;
    }
    memcpy(rec, SO_OUTBOX_MAGIC, 4);
    put32(rec + 4, (uint32_t)plen);
    put64(rec + 12, seq);
    uint8_t *p = rec + SO_OUTBOX_HEADER;
    put32(p, (uint32_t)json_len);
    if (json_len) {
        memcpy(p + 4, json, json_len);
    }
    p += 4 + json_len;
    put32(p, (uint32_t)n_parts);
    p += 4;
    for (int i = 0; i < n_parts; i++) {
        put32(p, (uint32_t)parts[i].size);
        if (parts[i].size) {
            memcpy(p + 4, parts[i].data, parts[i].size);
        }
        p += 4 + parts[i].size;
    }
    put32(rec + 8, so_crc32(0, rec + 12, 8 + plen));

    pthread_mutex_lock(&o->lock);
    int rc = seq > o->last_seq ? append_locked(o, seq, rec, len) : -EINVAL;
    pthread_mutex_unlock(&o->lock);
    free(rec);
    return rc;
}

uint64_t so_outbox_next(struct so_outbox *o, uint64_t after)
{
    pthread_mutex_lock(&o->lock);
    uint64_t v = 0;
    size_t lo = o->head, hi = o->n_ents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->ents[mid].seq <= after) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < o->n_ents; lo++) {
        if (!o->ents[lo].acked) {
            v = o->ents[lo].seq;
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return v;
}

int so_outbox_read(struct so_outbox *o, uint64_t seq, struct so_outbox_record *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&o->lock);
    struct entry *e = find_entry(o, seq);
    if (!e || e->acked) {
        pthread_mutex_unlock(&o->lock);
        return -ENOENT;
    }
    char path[4200];
    seg_path(o, o->segs[e->seg].first, path, sizeof(path));
    uint64_t off = e->off;
    size_t len = e->len;
    /* Read under the lock: the segment cannot be deleted meanwhile. */
    int rc = 0;
    uint8_t *buf = malloc(len);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!buf) {
        rc = -ENOMEM;
    } else if (fd < 0) {
        rc = -errno;
    } else {
        rc = read_full(fd, buf, len, (off_t)off);
    }
    if (fd >= 0) {
        close(fd);
    }
    pthread_mutex_unlock(&o->lock);
    size_t used = 0;
    if (rc == 0) {
        rc = so_outbox_parse(buf, len, out, &used);
        if (rc == -EAGAIN || (rc == 0 && out->seq != seq)) {
            rc = -EBADMSG;
        }
    }
    if (rc < 0) {
        so_err(WHO, "cannot read seq %" PRIu64 " from %s: %s", seq, path, strerror(-rc));
        free(buf);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    /* One block for the caller: the record, then its JSON again as a C string. */
    uint8_t *all = malloc(len + out->json_len + 1);
    if (!all) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(all, buf, len);
    free(buf);
    so_outbox_parse(all, len, out, &used);
    memcpy(all + len, out->json, out->json_len);
    all[len + out->json_len] = 0;
    out->json = (const char *)all + len;
    out->buf = all;
    return 0;
}

void so_outbox_record_finish(struct so_outbox_record *r)
{
    if (r) {
        free(r->buf);
        memset(r, 0, sizeof(*r));
    }
}

int so_outbox_ack(struct so_outbox *o, uint64_t seq)
{
    pthread_mutex_lock(&o->lock);
    struct entry *e = find_entry(o, seq);
    if (!e || e->acked) {
        pthread_mutex_unlock(&o->lock);
        return -ENOENT;
    }
    e->acked = true;
    o->segs[e->seg].pending--;
    bool moved = false;
    while (o->head < o->n_ents && o->ents[o->head].acked) {
        o->cursor = o->ents[o->head].seq;
        o->head++;
        moved = true;
    }
    if (o->head == o->n_ents) {
        o->head = o->n_ents = 0;
    }
    if (moved) {
        save_cursor(o, false);
        collect_segments(o);
    }
    pthread_mutex_unlock(&o->lock);
    return 0;
}
