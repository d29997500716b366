/* The cross-language SDK vectors (test-vectors/sdk/vectors.json) through the C ABI;
 * examples/c/vectors.py feeds it every case and error case, one per line on standard input:
 *
 *   NAME \t decrypt \t KEY_DIR \t KEY_FILE \t IV_B64 \t CT_B64 \t ALGORITHM \t FINGERPRINT|- \t EXPECT
 *   NAME \t encrypt \t KEY_DIR \t KEY_FILE \t IV_B64 \t PLAINTEXT_HEX \t ALGORITHM \t FINGERPRINT|- \t EXPECT
 *
 * EXPECT is "ok:HEX" (decrypt: the plaintext; encrypt: the Base64 ciphertext, given as hex of
 * its text) or "error:CODE". A case that decrypts runs both whitebox_decrypt_with_fingerprint
 * and a wb_key handle. Each case prints one line, "pass NAME" or "FAIL NAME: why", and the
 * last line counts them; exit 0 when every case passed, 1 when one failed, 2 on bad input.
 *
 * All cases run in one process: under Wine or qemu-user, one launch per program instead of one
 * per case (each launch is seconds of emulator start-up and one more chance for the launcher
 * itself to fail). An empty input is the readiness check: the program starts, reaches main and
 * says so ("vectors: ready, no cases"), which tells a launcher that cannot start programs apart
 * from a library that gives wrong answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbruntime.h"

#define FIELDS 9
/* The longest vector line is under 20 KiB (a 6.7 KB ciphertext, or a 5 KB plaintext as hex). */
#define LINE_MAX_BYTES (1 << 20)

static size_t unhex(const char *hex, uint8_t *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

/* 0 when RC and the output match WANT; otherwise prints why (after "FAIL NAME: ") and gives 1. */
static int expect(const char *name, const char *what, int32_t rc, const uint8_t *got, size_t len,
                  const char *want) {
    if (strncmp(want, "error:", 6) == 0) {
        int code = atoi(want + 6);
        if (rc == code) return 0;
        printf("FAIL %s: %s: expected error %s, got %08d\n", name, what, want + 6, rc);
        return 1;
    }
    if (rc != WB_OK) {
        printf("FAIL %s: %s: error %08d: %s\n", name, what, rc, wb_error_message(rc));
        return 1;
    }
    uint8_t *w = malloc(strlen(want) / 2 + 1);
    if (w == NULL) {
        printf("FAIL %s: out of memory\n", name);
        return 1;
    }
    size_t wlen = unhex(want + 3, w);
    int bad = wlen != len || memcmp(w, got, len) != 0;
    free(w);
    if (bad) printf("FAIL %s: %s: result differs\n", name, what);
    return bad;
}

static int encrypt_case(const char *name, char **f) {
    const char *dir = f[2], *file = f[3], *iv = f[4], *data = f[5], *want = f[8];
    uint32_t alg = (uint32_t)atoi(f[6]);
    const char *fp = strcmp(f[7], "-") == 0 ? NULL : f[7];
    uint8_t *pt = malloc(strlen(data) / 2 + 1);
    size_t pt_len = pt == NULL ? 0 : unhex(data, pt);
    size_t len = (pt_len / 16 + 1) * 16 * 4 / 3 + 8;
    char *out = malloc(len);
    int failed;
    if (pt == NULL || out == NULL) {
        printf("FAIL %s: out of memory\n", name);
        failed = 1;
    } else {
        int32_t rc = whitebox_encrypt_with_fingerprint(dir, file, iv, pt, pt_len, alg, fp, out, &len);
        failed = expect(name, "whitebox_encrypt", rc, (const uint8_t *)out, rc == WB_OK ? len : 0, want);
    }
    free(out);
    free(pt);
    return failed;
}

static int decrypt_case(const char *name, char **f) {
    const char *dir = f[2], *file = f[3], *iv = f[4], *data = f[5], *want = f[8];
    uint32_t alg = (uint32_t)atoi(f[6]);
    const char *fp = strcmp(f[7], "-") == 0 ? NULL : f[7];
    size_t cap = strlen(data) + 16, len = cap;
    uint8_t *out = malloc(cap);
    if (out == NULL) {
        printf("FAIL %s: out of memory\n", name);
        return 1;
    }
    int32_t rc = whitebox_decrypt_with_fingerprint(dir, file, iv, data, alg, fp, out, &len);
    int failed = expect(name, "whitebox_decrypt", rc, out, len, want);
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
        failed |= expect(name, "wb_key_decrypt_b64", rc, out, len, want);
        wb_key_free(key);
    }
    wb_wipe(out, cap);
    free(out);
    return failed;
}

int main(void) {
    char *line = malloc(LINE_MAX_BYTES);
    if (line == NULL) {
        fputs("vectors: out of memory\n", stderr);
        return 2;
    }
    unsigned passed = 0, failed = 0, number = 0;
    while (fgets(line, LINE_MAX_BYTES, stdin) != NULL) {
        number++;
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n') {
            fprintf(stderr, "vectors: line %u is longer than %d bytes or not ended\n", number, LINE_MAX_BYTES);
            return 2;
        }
        line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
        char *f[FIELDS];
        int count = 0;
        for (char *p = line; count < FIELDS; count++) {
            f[count] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL) {
                count++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (count != FIELDS) {
            fprintf(stderr, "vectors: line %u has %d fields, not %d\n", number, count, FIELDS);
            return 2;
        }
        int bad;
        if (strcmp(f[1], "encrypt") == 0) {
            bad = encrypt_case(f[0], f);
        } else if (strcmp(f[1], "decrypt") == 0) {
            bad = decrypt_case(f[0], f);
        } else {
            fprintf(stderr, "vectors: line %u: unknown operation\n", number);
            return 2;
        }
        if (bad) {
            failed++;
        } else {
            passed++;
            printf("pass %s\n", f[0]);
        }
        fflush(stdout);
    }
    free(line);
    if (number == 0) {
        puts("vectors: ready, no cases");
        return 0;
    }
    printf("C ABI, SDK vectors: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
