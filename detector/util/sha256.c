/*
 * Why this file exists: two modules hash bytes, for opposite reasons: the event record carries
 * the SHA-256 of each evidence image so the case platform can verify what it stores, and the
 * model loader checks every downloaded model file against the sum in its descriptor. Both want
 * the same lowercase hex, so the digest and the hex writing live here once; neither module
 * needs to know that OpenSSL does the work.
 *
 * Trade-off: files are streamed through a 64 KiB stack buffer rather than mapped; model files
 * are a few MB, and this reads a file that is short or being replaced without a SIGBUS.
 */
#include "sha256.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/evp.h>

/* The first 32 bytes of a digest as 64 lowercase hex digits and a NUL. */
static void to_hex(const unsigned char *md, unsigned int len, char out[65])
{
    for (unsigned int i = 0; i < len && i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

void so_sha256_hex(const void *data, size_t size, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data, size, md, &len, EVP_sha256(), NULL)) {
        out[0] = 0;
        return;
    }
    to_hex(md, len, out);
}

int so_sha256_file(const char *path, char out[65], long long *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        return -errno;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        fclose(fp);
        return -ENOMEM;
    }
    unsigned char buf[65536];
    long long total = 0;
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        if (!EVP_DigestUpdate(ctx, buf, n)) {
            rc = -EIO;
            break;
        }
        total += (long long)n;
    }
    if (ferror(fp)) {
        rc = -EIO;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, md, &len)) {
        rc = -EIO;
    }
    EVP_MD_CTX_free(ctx);
    fclose(fp);
    if (rc == 0) {
        to_hex(md, len, out);
        out[64] = '\0';
        if (size) {
            *size = total;
        }
    }
    return rc;
}
