/* Unit tests of the outbox journal: append/read/ack, recovery, torn and corrupt tails,
 * segment deletion, quota, and the pure record parser. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outbox.h"
#include "testlib.h"

static char root[PATH_MAX];

static int count_segments(const char *dir, char *last, size_t size)
{
    DIR *d = opendir(dir);
    int n = 0;
    char best[256] = "";
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strncmp(de->d_name, "seg-", 4)) {
            n++;
            if (strcmp(de->d_name, best) > 0) {
                snprintf(best, sizeof(best), "%s", de->d_name);
            }
        }
    }
    if (d) {
        closedir(d);
    }
    if (last) {
        snprintf(last, size, "%s/%s", dir, best);
    }
    return n;
}

static struct so_outbox *open_box(const char *dir, uint64_t quota, uint64_t seg)
{
    struct so_outbox_opts opts = {.dir = dir, .quota_bytes = quota, .segment_bytes = seg,
                                  .fsync = true};
    return so_outbox_open(&opts);
}

/* Append seq with a json naming it and `n_parts` parts of `part_size` bytes of (seq + i). */
static int append(struct so_outbox *o, uint64_t seq, int n_parts, size_t part_size)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"seq\":%llu}", (unsigned long long)seq);
    static uint8_t bufs[3][70000];
    struct so_outbox_part parts[3];
    for (int i = 0; i < n_parts; i++) {
        memset(bufs[i], (int)(seq + (uint64_t)i), part_size);
        parts[i] = (struct so_outbox_part){bufs[i], part_size};
    }
    return so_outbox_append(o, seq, json, (size_t)n, parts, n_parts);
}

static bool record_ok(struct so_outbox *o, uint64_t seq, int n_parts, size_t part_size)
{
    struct so_outbox_record r;
    if (so_outbox_read(o, seq, &r) != 0) {
        return false;
    }
    char json[64];
    snprintf(json, sizeof(json), "{\"seq\":%llu}", (unsigned long long)seq);
    bool ok = r.seq == seq && !strcmp(r.json, json) && r.json_len == strlen(json) &&
              r.n_parts == n_parts;
    for (int i = 0; ok && i < n_parts; i++) {
        ok = r.parts[i].size == part_size &&
             (part_size == 0 || (r.parts[i].data[0] == (uint8_t)(seq + (uint64_t)i) &&
                                 r.parts[i].data[part_size - 1] == (uint8_t)(seq + (uint64_t)i)));
    }
    so_outbox_record_finish(&r);
    return ok;
}

static void test_crc(void)
{
    CHECK_INT(so_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_INT(so_crc32(so_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_append_read_ack(void)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/basic", root);
    struct so_outbox *o = open_box(dir, 0, 0);
    CHECK(o != NULL);
    if (!o) {
        return;
    }
    CHECK_INT(so_outbox_last_seq(o), 0);
    CHECK_INT(so_outbox_next(o, 0), 0);
    CHECK_INT(append(o, 1, 0, 0), 0);
    CHECK_INT(append(o, 2, 2, 1000), 0);
    CHECK_INT(append(o, 5, 3, 60000), 0);       /* gaps are allowed (an event lost earlier) */
    CHECK_INT(append(o, 5, 0, 0), -EINVAL);     /* seq must grow */
    CHECK_INT(append(o, 4, 0, 0), -EINVAL);
    CHECK_INT(so_outbox_last_seq(o), 5);
    CHECK_INT(so_outbox_pending(o), 3);
    CHECK(record_ok(o, 1, 0, 0));
    CHECK(record_ok(o, 2, 2, 1000));
    CHECK(record_ok(o, 5, 3, 60000));
    struct so_outbox_record r;
    CHECK_INT(so_outbox_read(o, 3, &r), -ENOENT);
    CHECK_INT(so_outbox_next(o, 0), 1);
    CHECK_INT(so_outbox_next(o, 2), 5);
    CHECK_INT(so_outbox_next(o, 5), 0);

    /* Out-of-order acks: the cursor only moves over an acknowledged prefix. */
    CHECK_INT(so_outbox_ack(o, 2), 0);
    CHECK_INT(so_outbox_acked(o), 0);
    CHECK_INT(so_outbox_next(o, 1), 5);
    CHECK_INT(so_outbox_ack(o, 2), -ENOENT);    /* duplicate ack */
    CHECK_INT(so_outbox_ack(o, 9), -ENOENT);    /* unknown */
    CHECK_INT(so_outbox_read(o, 2, &r), -ENOENT);
    CHECK_INT(so_outbox_ack(o, 1), 0);
    CHECK_INT(so_outbox_acked(o), 2);
    CHECK_INT(so_outbox_pending(o), 1);
    so_outbox_close(o);

    /* Reopen: 5 is still pending, numbering continues after 5. */
    o = open_box(dir, 0, 0);
    CHECK(o != NULL);
    if (!o) {
        return;
    }
    CHECK_INT(so_outbox_acked(o), 2);
    CHECK_INT(so_outbox_last_seq(o), 5);
    CHECK_INT(so_outbox_pending(o), 1);
    CHECK_INT(so_outbox_next(o, 0), 5);
    CHECK(record_ok(o, 5, 3, 60000));
    CHECK_INT(so_outbox_ack(o, 5), 0);
    CHECK_INT(so_outbox_acked(o), 5);
    so_outbox_close(o);

    /* Everything acknowledged: last seq survives through the cursor. */
    o = open_box(dir, 0, 0);
    CHECK(o && so_outbox_last_seq(o) == 5 && so_outbox_pending(o) == 0);
    CHECK(o && append(o, 6, 1, 10) == 0 && record_ok(o, 6, 1, 10));
    so_outbox_close(o);
    so_outbox_close(NULL);
    so_test_rm_rf(dir);
}

static void test_segments_deleted(void)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/segs", root);
    struct so_outbox *o = open_box(dir, 0, 10000);    /* ~3 records of 3 KB per segment */
    CHECK(o != NULL);
    if (!o) {
        return;
    }
    for (uint64_t s = 1; s <= 20; s++) {
        CHECK_INT(append(o, s, 1, 3000), 0);
    }
    int n = count_segments(dir, NULL, 0);
    CHECK(n >= 6);
    for (uint64_t s = 1; s <= 10; s++) {
        CHECK_INT(so_outbox_ack(o, s), 0);
    }
    CHECK(count_segments(dir, NULL, 0) < n);
    CHECK(count_segments(dir, NULL, 0) >= 3);
    so_outbox_close(o);
    o = open_box(dir, 0, 10000);
    CHECK(o && so_outbox_pending(o) == 10 && so_outbox_next(o, 0) == 11);
    for (uint64_t s = 11; o && s <= 20; s++) {
        CHECK(record_ok(o, s, 1, 3000));
        CHECK_INT(so_outbox_ack(o, s), 0);
    }
    CHECK_INT(count_segments(dir, NULL, 0), 1);     /* only the active one is kept */
    so_outbox_close(o);
    so_test_rm_rf(dir);
}

/* Cut `bytes` off the end of the last segment, or flip a byte at `flip_from_end`. */
static void damage_last(const char *dir, off_t cut, off_t flip_from_end)
{
    char last[600];
    count_segments(dir, last, sizeof(last));
    struct stat st;
    if (stat(last, &st) != 0) {
        return;
    }
    if (cut) {
        CHECK(truncate(last, st.st_size - cut) == 0);
    }
    if (flip_from_end) {
        int fd = open(last, O_RDWR);
        uint8_t b = 0;
        CHECK(pread(fd, &b, 1, st.st_size - flip_from_end) == 1);
        b ^= 0x5a;
        CHECK(pwrite(fd, &b, 1, st.st_size - flip_from_end) == 1);
        close(fd);
    }
}

static void test_torn_tail(void)
{
    static const struct {
        const char *name;
        off_t cut, flip;
    } cases[] = {
        {"cut inside the payload", 7, 0},
        {"cut inside the header", 2000 + 20 + 8 + 12 - 5, 0},   /* leaves 5 header bytes */
        {"flipped payload byte (crc)", 0, 100},
        {"flipped json byte", 0, 2000 + 8 + 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof(dir), "%s/torn%zu", root, i);
        struct so_outbox *o = open_box(dir, 0, 0);
        for (uint64_t s = 1; o && s <= 4; s++) {
            append(o, s, 1, 2000);
        }
        so_outbox_close(o);
        damage_last(dir, cases[i].cut, cases[i].flip);
        o = open_box(dir, 0, 0);
        so_test_check(o != NULL, __FILE__, __LINE__, "%s: reopens", cases[i].name);
        if (!o) {
            continue;
        }
        so_test_check(so_outbox_last_seq(o) == 3 && so_outbox_pending(o) == 3, __FILE__,
                      __LINE__, "%s: last record dropped (last %llu, pending %zu)",
                      cases[i].name, (unsigned long long)so_outbox_last_seq(o),
                      so_outbox_pending(o));
        CHECK(record_ok(o, 3, 1, 2000));
        struct so_outbox_record r;
        CHECK_INT(so_outbox_read(o, 4, &r), -ENOENT);
        /* Appending after recovery gives a clean journal again (4 is re-used: it was never
         * confirmed by a successful append). */
        CHECK_INT(append(o, 4, 1, 50), 0);
        so_outbox_close(o);
        o = open_box(dir, 0, 0);
        CHECK(o && so_outbox_pending(o) == 4 && record_ok(o, 4, 1, 50));
        so_outbox_close(o);
        so_test_rm_rf(dir);
    }
}

static void test_quota(void)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/quota", root);
    struct so_outbox *o = open_box(dir, 200000, 0);   /* 200 KB: three 60 KB events */
    CHECK(o != NULL);
    if (!o) {
        return;
    }
    int ok = 0, full = 0;
    for (uint64_t s = 1; s <= 6; s++) {
        int rc = append(o, s, 1, 60000);
        ok += rc == 0;
        full += rc == -EDQUOT;
    }
    CHECK_INT(ok, 3);
    CHECK_INT(full, 3);
    CHECK(so_outbox_bytes(o) <= 200000);
    CHECK_INT(so_outbox_last_seq(o), 3);
    CHECK(record_ok(o, 3, 1, 60000));
    /* Acknowledging frees space. */
    CHECK_INT(so_outbox_ack(o, 1), 0);
    CHECK_INT(so_outbox_ack(o, 2), 0);
    CHECK_INT(so_outbox_ack(o, 3), 0);
    CHECK_INT(append(o, 7, 1, 60000), 0);
    CHECK_INT(append(o, 8, 1, 60000), 0);
    so_outbox_close(o);
    o = open_box(dir, 200000, 0);
    CHECK(o && so_outbox_pending(o) == 2 && record_ok(o, 7, 1, 60000) &&
          record_ok(o, 8, 1, 60000));
    so_outbox_close(o);
    so_test_rm_rf(dir);
}

static void test_parse(void)
{
    uint8_t buf[64] = "SOJ1";
    struct so_outbox_record r;
    size_t used = 0;
    CHECK_INT(so_outbox_parse(buf, 0, &r, &used), -EAGAIN);
    CHECK_INT(so_outbox_parse(buf, 3, &r, &used), -EAGAIN);
    CHECK_INT(so_outbox_parse(buf, 10, &r, &used), -EAGAIN);
    CHECK_INT(so_outbox_parse((const uint8_t *)"garbage", 7, &r, &used), -EBADMSG);
    memset(buf + 4, 0xff, 4);   /* huge length */
    CHECK_INT(so_outbox_parse(buf, sizeof(buf), &r, &used), -EBADMSG);
}

int main(void)
{
    so_test_temp_dir(root);
    test_crc();
    test_append_read_ack();
    test_segments_deleted();
    test_torn_tail();
    test_quota();
    test_parse();
    so_test_rm_rf(root);
    return so_test_done();
}
