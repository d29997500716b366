/* One case of the cross-language SDK vectors (test-vectors/sdk/vectors.json) through the C
 * ABI; examples/c/run.sh feeds it every case and error case.
 *
 * usage: vectors decrypt KEY_DIR KEY_FILE IV_B64 CT_B64 ALGORITHM FINGERPRINT|- EXPECT
 *        vectors encrypt KEY_DIR KEY_FILE IV_B64 PLAINTEXT_HEX ALGORITHM FINGERPRINT|- EXPECT
 *
 * EXPECT is "ok:HEX" (decrypt: the plaintext; encrypt: the Base64 ciphertext, given as hex of
 * its text) or "error:CODE". A case that decrypts runs both whitebox_decrypt_with_fingerprint
 * and a wb_key handle. Exit 0 when every result is as expected.
 *
 * The first line on standard output says that main was reached: a run that fails without it
 * never got to the library (the launcher, Wine or qemu, failed), and vectors.py tells the two
 * apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbruntime.h"

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

static int expect(const char *what, int32_t rc, const uint8_t *got, size_t len, const char *want) {
    if (strncmp(want, "error:", 6) == 0) {
        int code = atoi(want + 6);
        if (rc == code) return 0;
        fprintf(stderr, "%s: expected error %s, got %08d\n", what, want + 6, rc);
        return 1;
    }
    if (rc != WB_OK) {
        fprintf(stderr, "%s: error %08d: %s\n", what, rc, wb_error_message(rc));
        return 1;
    }
    uint8_t *w = malloc(strlen(want) / 2 + 1);
    size_t wlen = unhex(want + 3, w);
    int bad = wlen != len || memcmp(w, got, len) != 0;
    free(w);
    if (bad) fprintf(stderr, "%s: result differs\n", what);
    return bad;
}

int main(int argc, char **argv) {
    fputs("vectors: main reached\n", stdout);
    fflush(stdout);
    if (argc != 9) {
        fprintf(stderr, "vectors: expected 8 arguments, got %d\n", argc - 1);
        return 2;
    }
    const char *op = argv[1], *dir = argv[2], *file = argv[3], *iv = argv[4], *data = argv[5];
    uint32_t alg = (uint32_t)atoi(argv[6]);
    const char *fp = strcmp(argv[7], "-") == 0 ? NULL : argv[7];
    const char *want = argv[8];
    int failed = 0;
    if (strcmp(op, "encrypt") == 0) {
        uint8_t *pt = malloc(strlen(data) / 2 + 1);
        size_t pt_len = unhex(data, pt);
        size_t len = (pt_len / 16 + 1) * 16 * 4 / 3 + 8;
        char *out = malloc(len);
        int32_t rc = whitebox_encrypt_with_fingerprint(dir, file, iv, pt, pt_len, alg, fp, out, &len);
        failed |= expect("whitebox_encrypt", rc, (const uint8_t *)out, rc == WB_OK ? len : 0, want);
        free(out);
        free(pt);
        return failed;
    }
    size_t cap = strlen(data) + 16, len = cap;
    uint8_t *out = malloc(cap);
    int32_t rc = whitebox_decrypt_with_fingerprint(dir, file, iv, data, alg, fp, out, &len);
    failed |= expect("whitebox_decrypt", rc, out, len, want);
    /* A case that decrypts also decrypts through a handle (the error cases are about the
     * one-shot call's arguments). */
    if (strncmp(want, "ok:", 3) == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        wb_key *key = NULL;
        rc = wb_key_load_file(path, fp, &key);
        if (rc == WB_OK) {
            len = cap;
            rc = wb_key_decrypt_b64(key, iv, data, out, &len);
        }
        failed |= expect("wb_key_decrypt_b64", rc, out, len, want);
        wb_key_free(key);
    }
    wb_wipe(out, cap);
    free(out);
    return failed;
}
