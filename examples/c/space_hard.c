/* Space-hard key files from C: the key file encrypts as well as decrypts.
 *
 * usage: space_hard KEY_DIR KEY_FILE IV_B64 ALGORITHM PLAINTEXT [CHOW_KEY_FILE]
 *
 * Prints the Base64 ciphertext of PLAINTEXT made by whitebox_encrypt, then checks that
 * whitebox_decrypt gives PLAINTEXT back and that a wb_key handle encrypts and decrypts the
 * same bytes; with CHOW_KEY_FILE (an external- or standard-mode file in KEY_DIR), checks that
 * encrypting with it fails with 1000018. Exit 0 only if every check passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wbruntime.h"

static int fail(const char *what, int32_t rc) {
    fprintf(stderr, "%s: error %08d: %s\n", what, rc, wb_error_message(rc));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s KEY_DIR KEY_FILE IV_B64 ALGORITHM PLAINTEXT [CHOW_KEY_FILE]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *file = argv[2], *iv_b64 = argv[3], *text = argv[5];
    uint32_t algorithm = (uint32_t)atoi(argv[4]);
    size_t text_len = strlen(text);

    /* One-shot encryption: ask for the size, then encrypt. */
    size_t ct_len = 0;
    int32_t rc = whitebox_encrypt(dir, file, iv_b64, (const uint8_t *)text, text_len, algorithm, NULL, &ct_len);
    if (rc != WB_ERR_BUFFER_TOO_SMALL) return fail("whitebox_encrypt (size)", rc);
    char *ct_b64 = malloc(ct_len);
    rc = whitebox_encrypt(dir, file, iv_b64, (const uint8_t *)text, text_len, algorithm, ct_b64, &ct_len);
    if (rc != WB_OK) return fail("whitebox_encrypt", rc);
    printf("%s\n", ct_b64);

    /* And back. */
    size_t pt_len = strlen(ct_b64);
    uint8_t *pt = malloc(pt_len);
    rc = whitebox_decrypt(dir, file, iv_b64, ct_b64, algorithm, pt, &pt_len);
    if (rc != WB_OK) return fail("whitebox_decrypt", rc);
    int ok = pt_len == text_len && memcmp(pt, text, text_len) == 0;
    wb_wipe(pt, pt_len);
    free(pt);
    if (!ok) { fprintf(stderr, "whitebox_decrypt gave other bytes\n"); return 1; }

    /* A handle: raw bytes both ways. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    wb_key *key = NULL;
    rc = wb_key_load_file(path, NULL, &key);
    if (rc != WB_OK) return fail("wb_key_load_file", rc);
    uint8_t iv[16];
    memset(iv, 0x5c, sizeof iv);
    size_t raw_len = (text_len / 16 + 1) * 16;
    uint8_t *raw = malloc(raw_len), *back = malloc(raw_len);
    rc = wb_key_encrypt(key, iv, sizeof iv, (const uint8_t *)text, text_len, raw, &raw_len);
    if (rc != WB_OK) return fail("wb_key_encrypt", rc);
    size_t back_len = raw_len;
    rc = wb_key_decrypt(key, iv, sizeof iv, raw, raw_len, back, &back_len);
    if (rc != WB_OK) return fail("wb_key_decrypt", rc);
    ok = back_len == text_len && memcmp(back, text, text_len) == 0;
    wb_wipe(back, raw_len);
    free(raw);
    free(back);
    wb_key_free(key);
    if (!ok) { fprintf(stderr, "the handle gave other bytes\n"); return 1; }

    if (argc == 7) {
        size_t n = 0;
        rc = whitebox_encrypt(dir, argv[6], iv_b64, (const uint8_t *)text, text_len, algorithm, NULL, &n);
        if (rc != 1000018) { fprintf(stderr, "a Chow-style file encrypted (rc %d)\n", rc); return 1; }
    }
    free(ct_b64);
    return 0;
}
