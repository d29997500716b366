package wbtoolkit.whitebox;

/** What a {@link WhiteboxCipher} does. */
public enum Mode {
    /** CBC decryption with PKCS#7 unpadding: every key file. */
    DECRYPT,
    /** CBC encryption with PKCS#7 padding: space-hard key files only (others: 01000018). */
    ENCRYPT
}
