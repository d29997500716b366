/* Large messages through the C ABI on the backend the library chooses (or WBRUNTIME_BACKEND
 * forces): one handle decrypts a multi-MiB Base64 ciphertext from several threads at once
 * while its tables are being re-laid out, and the one-shot whitebox_decrypt gives the same
 * bytes.
 *
 * usage: backends KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64_FILE PLAINTEXT_FILE ALGORITHM
 *
 * Prints the handle's backend (wb_key_backend) and exits 0 if every result equals
 * PLAINTEXT_FILE; on an error prints its code and exits with 3 (load failed: the code is on
 * standard output as "load-error CODE") or 1. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbruntime.h"

#define THREADS 4

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

struct job {
    wb_key *key;
    const char *iv_b64, *ct_b64;
    const char *plain;
    size_t plain_len, ct_len;
    int ok;
};

static void *work(void *arg) {
    struct job *j = arg;
    uint8_t *out = malloc(j->ct_len);
    size_t len = j->ct_len;
    int32_t rc = wb_key_decrypt_b64(j->key, j->iv_b64, j->ct_b64, out, &len);
    j->ok = rc == WB_OK && len == j->plain_len && memcmp(out, j->plain, len) == 0;
    if (rc != WB_OK) fprintf(stderr, "wb_key_decrypt_b64: %08d %s\n", rc, wb_error_message(rc));
    wb_wipe(out, j->ct_len);
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64_FILE PLAINTEXT_FILE ALGORITHM\n", argv[0]);
        return 2;
    }
    size_t ct_text_len = 0, plain_len = 0;
    char *ct_b64 = read_all(argv[4], &ct_text_len);
    char *plain = read_all(argv[5], &plain_len);
    if (!ct_b64 || !plain) { fprintf(stderr, "cannot read the inputs\n"); return 1; }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], argv[2]);

    wb_key *key = NULL;
    int32_t rc = wb_key_load_file(path, NULL, &key);
    if (rc != WB_OK) { printf("load-error %08d\n", rc); free(ct_b64); free(plain); return 3; }
    printf("backend %s\n", wb_key_backend(key));

    /* Several threads on one fresh handle: the first long message builds the layout. */
    pthread_t threads[THREADS];
    struct job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct job){ key, argv[3], ct_b64, plain, plain_len, ct_text_len, 0 };
        pthread_create(&threads[i], NULL, work, &jobs[i]);
    }
    int ok = 1;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        ok &= jobs[i].ok;
    }
    wb_key_free(key);

    /* The one-shot call. */
    uint8_t *out = malloc(ct_text_len);
    size_t len = ct_text_len;
    rc = whitebox_decrypt(argv[1], argv[2], argv[3], ct_b64, (uint32_t)atoi(argv[6]), out, &len);
    if (rc != WB_OK) { fprintf(stderr, "whitebox_decrypt: %08d %s\n", rc, wb_error_message(rc)); ok = 0; }
    else ok &= len == plain_len && memcmp(out, plain, len) == 0;
    wb_wipe(out, ct_text_len);
    free(out);
    free(ct_b64);
    free(plain);
    if (!ok) { fprintf(stderr, "a result differs from the plaintext\n"); return 1; }
    printf("ok %zu bytes\n", plain_len);
    return 0;
}
