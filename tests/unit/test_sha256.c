/*
 * Unit tests for detector/util/sha256.c: the FIPS 180-2 vectors in memory, the same sums from
 * files (empty, small, several 64 KiB blocks with a ragged end) with their sizes, and the
 * errors of a file that is missing or a folder.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "testlib.h"

static const struct {
    const char *name;
    const char *data;   /* NULL: `size` bytes of 'a' */
    size_t size;
    const char *hex;
} vectors[] = {
    {"empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"two blocks", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"a million a (16 file blocks, a ragged end)", NULL, 1000000,
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

static char *bytes_of(size_t i)
{
    char *buf = malloc(vectors[i].size + 1);
    if (vectors[i].data) {
        memcpy(buf, vectors[i].data, vectors[i].size);
    } else {
        memset(buf, 'a', vectors[i].size);
    }
    return buf;
}

static void test_memory(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *buf = bytes_of(i), out[65];
        memset(out, 'x', sizeof(out));
        so_sha256_hex(buf, vectors[i].size, out);
        so_test_check(strcmp(out, vectors[i].hex) == 0, __FILE__, __LINE__,
                      "memory %s: %.65s", vectors[i].name, out);
        free(buf);
    }
}

static void test_file(void)
{
    char path[] = "/tmp/so_test_sha256_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    close(fd);
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char *buf = bytes_of(i), out[65] = "";
        FILE *fp = fopen(path, "wb");
        CHECK(fp && fwrite(buf, 1, vectors[i].size, fp) == vectors[i].size);
        if (fp) {
            fclose(fp);
        }
        long long size = -1;
        CHECK_INT(so_sha256_file(path, out, &size), 0);
        CHECK_INT(size, vectors[i].size);
        so_test_check(strcmp(out, vectors[i].hex) == 0, __FILE__, __LINE__, "file %s: %.65s",
                      vectors[i].name, out);
        CHECK_INT(so_sha256_file(path, out, NULL), 0);     /* size is optional */
        free(buf);
    }
    unlink(path);

    char out[65] = "untouched";
    CHECK_INT(so_sha256_file(path, out, NULL), -ENOENT);
    CHECK_STR(out, "untouched");
    CHECK_INT(so_sha256_file("/tmp", out, NULL), -EIO);   /* a folder opens but cannot be read */
}

int main(void)
{
    test_memory();
    test_file();
    return so_test_done();
}
