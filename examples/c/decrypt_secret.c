/*
 * Decrypting a secret from C with the white-box runtime (libwbruntime_ffi).
 *
 *   decrypt_secret KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM
 *
 * 1. whitebox_decrypt, the one-call API of the KMS SDKs, with the output size negotiated;
 * 2. the handle API: load the key file once, decrypt from four threads at once, free;
 * 3. the error contract: null pointers, a bad algorithm, a small buffer, a missing file.
 * Prints the secret and exits 0 only if every check passed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbruntime.h"

static const char *iv_b64, *ct_b64;
static const char *expected;
static size_t expected_len;

struct job {
    const wb_key *key;
    int failures;
};

static void *worker(void *arg) {
    struct job *job = arg;
    for (int i = 0; i < 20; i++) {
        uint8_t out[4096];
        size_t len = sizeof out;
        int32_t rc = wb_key_decrypt_b64(job->key, iv_b64, ct_b64, out, &len);
        if (rc != WB_OK || len != expected_len || memcmp(out, expected, len) != 0) {
            job->failures++;
        }
        wb_wipe(out, sizeof out);
    }
    return NULL;
}

#define CHECK(cond, what)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            fprintf(stderr, "FAILED: %s\n", what);          \
            failures++;                                     \
        }                                                   \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *file = argv[2];
    iv_b64 = argv[3];
    ct_b64 = argv[4];
    uint32_t algorithm = (uint32_t)atoi(argv[5]);
    int failures = 0;

    /* 1. One call, size negotiated: ask with no buffer, then allocate what is needed. */
    size_t needed = 0;
    int32_t rc = whitebox_decrypt(dir, file, iv_b64, ct_b64, algorithm, NULL, &needed);
    if (rc != WB_ERR_BUFFER_TOO_SMALL) {
        /* The last error's message has the details: why, and which key file. */
        fprintf(stderr, "error %08d: %s\n", rc, wb_last_error_message());
        return 1;
    }
    uint8_t *secret = malloc(needed ? needed : 1);
    size_t secret_len = needed;
    rc = whitebox_decrypt(dir, file, iv_b64, ct_b64, algorithm, secret, &secret_len);
    CHECK(rc == WB_OK && secret_len == needed, "whitebox_decrypt");
    printf("secret: %.*s\n", (int)secret_len, (const char *)secret);
    expected = (const char *)secret;
    expected_len = secret_len;

    /* 2. Load once, decrypt from four threads. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    wb_key *key = NULL;
    rc = wb_key_load_file(path, NULL, &key);
    CHECK(rc == WB_OK && key != NULL, "wb_key_load_file");
    CHECK(wb_key_algorithm(key) == (int32_t)algorithm, "wb_key_algorithm");
    pthread_t threads[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].key = key;
        jobs[i].failures = 0;
        pthread_create(&threads[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].failures == 0, "concurrent wb_key_decrypt_b64");
    }

    /* 3. Errors are codes, never crashes. */
    size_t len = 4;
    uint8_t small[4];
    CHECK(wb_key_decrypt_b64(key, iv_b64, ct_b64, small, &len) == WB_ERR_BUFFER_TOO_SMALL,
          "small buffer is refused");
    CHECK(len >= expected_len, "the size needed is reported");
    len = sizeof small; /* the capacity, honestly: reset before every call */
    CHECK(wb_key_decrypt_b64(NULL, iv_b64, ct_b64, small, &len) == WB_ERR_NULL_POINTER, "null key");
    len = sizeof small;
    CHECK(wb_key_decrypt_b64(key, NULL, ct_b64, small, &len) == WB_ERR_NULL_POINTER, "null IV");
    len = sizeof small;
    CHECK(wb_key_decrypt_b64(key, iv_b64, ct_b64, small, NULL) == WB_ERR_NULL_POINTER, "null length");
    uint8_t big[4096];
    len = sizeof big;
    CHECK(wb_key_decrypt_b64(key, "AAAA", ct_b64, big, &len) == 1000009, "short IV");
    len = sizeof small;
    CHECK(whitebox_decrypt(dir, file, iv_b64, ct_b64, 7, small, &len) == 1000007, "bad algorithm");
    CHECK(whitebox_decrypt(NULL, file, iv_b64, ct_b64, algorithm, small, &len) == WB_ERR_NULL_POINTER,
          "null directory");
    wb_key *missing = NULL;
    CHECK(wb_key_load_file("/nonexistent/key.wbkey", NULL, &missing) == 1000001 && missing == NULL,
          "missing file");
    CHECK(strstr(wb_last_error_message(), "/nonexistent/key.wbkey") != NULL &&
              strstr(wb_last_error_message(), "no such file") != NULL,
          "the last error names the file and why");
    len = sizeof big;
    CHECK(wb_key_decrypt_b64(key, iv_b64, ct_b64, big, &len) == WB_OK &&
              wb_last_error_message()[0] == '\0',
          "a call that succeeds leaves no last error");
    wb_wipe(big, len);
    CHECK(wb_key_load_buffer((const uint8_t *)"not a key", 9, NULL, &missing) == 1000002,
          "not a key file");
    CHECK(wb_key_load_file(path, NULL, NULL) == WB_ERR_NULL_POINTER, "null out pointer");
    CHECK(strlen(wb_error_message(1000016)) > 0 && strlen(wb_version()) > 0, "messages");

    /* In-place decryption (out == ciphertext) is allowed; other overlaps are refused. */
    {
        uint8_t iv[16], ct[64];
        size_t n = sizeof ct;
        uint8_t tmp[80];
        size_t tlen = sizeof tmp;
        /* Encrypted data is not available raw here, so decrypt garbage: the point is the
           overlap rule and that a failure leaves no plaintext behind. */
        memset(iv, 1, sizeof iv);
        memset(ct, 2, sizeof ct);
        int32_t r = wb_key_decrypt(key, iv, sizeof iv, ct, sizeof ct, ct, &n);
        CHECK(r == WB_OK || r == 1000011, "in-place decryption runs");
        n = sizeof ct - 8;
        CHECK(wb_key_decrypt(key, iv, sizeof iv, ct, sizeof ct - 8, ct + 8, &n) == WB_ERR_OVERLAP,
              "partial overlap is refused");
        CHECK(wb_key_decrypt(key, tmp, 16, tmp + 16, 64, tmp, &tlen) == WB_ERR_OVERLAP,
              "IV overlapping the output is refused");
    }

    wb_key_free(key);
    wb_key_free(NULL);
    wb_wipe(secret, secret_len);
    free(secret);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
