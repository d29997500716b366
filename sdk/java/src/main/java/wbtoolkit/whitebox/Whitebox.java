package wbtoolkit.whitebox;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The one-shot calls business applications make, as in the KMS SDKs: a key directory, a key
 * file name, the Base64 IV and ciphertext, and the algorithm number (0 = AES-256, 1 = SM4).
 * Each call reads and checks the key file; to decrypt many secrets load a {@link WhiteboxKey}
 * once instead. Thread-safe.
 */
public final class Whitebox {
    private Whitebox() {}

    /**
     * Decrypts a secret (CBC, PKCS#7). A key file bound to devices decrypts only on them: this
     * device's fingerprint is collected when needed.
     *
     * @return the plaintext: wipe it ({@code Arrays.fill(secret, (byte) 0)}) once used
     * @throws WhiteboxException the subclass of its code (README.md, "Error codes")
     */
    public static byte[] whiteboxDecrypt(String keyDir, String keyFile, String ivB64,
            String ciphertextB64, int algorithm) throws WhiteboxException {
        return whiteboxDecryptWithFingerprint(keyDir, keyFile, ivB64, ciphertextB64, algorithm, null);
    }

    /** {@link #whiteboxDecrypt} with this device's fingerprint given (null: collect it). */
    public static byte[] whiteboxDecryptWithFingerprint(String keyDir, String keyFile, String ivB64,
            String ciphertextB64, int algorithm, String fingerprint) throws WhiteboxException {
        Args.text(keyDir, "keyDir");
        Args.text(keyFile, "keyFile");
        Args.text(ivB64, "ivB64");
        Args.text(ciphertextB64, "ciphertextB64");
        Args.optionalText(fingerprint, "fingerprint");
        return Native.whiteboxDecrypt(keyDir, keyFile, ivB64, ciphertextB64, algorithm, fingerprint);
    }

    /**
     * Encrypts a secret with a space-hard key file; returns the Base64 ciphertext (CBC,
     * PKCS#7). Draw a fresh random 16-byte IV for every message.
     *
     * @throws EncryptionUnsupportedException 01000018 for external- and standard-mode files
     */
    public static String whiteboxEncrypt(String keyDir, String keyFile, String ivB64,
            byte[] plaintext, int algorithm) throws WhiteboxException {
        return whiteboxEncryptWithFingerprint(keyDir, keyFile, ivB64, plaintext, algorithm, null);
    }

    /** {@link #whiteboxEncrypt} with this device's fingerprint given (null: collect it). */
    public static String whiteboxEncryptWithFingerprint(String keyDir, String keyFile,
            String ivB64, byte[] plaintext, int algorithm, String fingerprint)
            throws WhiteboxException {
        Args.text(keyDir, "keyDir");
        Args.text(keyFile, "keyFile");
        Args.text(ivB64, "ivB64");
        Args.nonNull(plaintext, "plaintext");
        Args.optionalText(fingerprint, "fingerprint");
        return Native.whiteboxEncrypt(keyDir, keyFile, ivB64, plaintext, algorithm, fingerprint);
    }

    /** The native library's version. */
    public static String nativeVersion() {
        return Native.version();
    }

    /** Where the native library was loaded from (the jar, or an override). */
    public static String nativeSource() {
        Native.version(); // make sure it is loaded
        return NativeLoader.source();
    }

    /**
     * {@code java -jar wbruntime.jar}: prints the library's version and origin; with
     * {@code KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM}, decrypts and prints the
     * secret (exit 1 with {@code error <CODE>: <message>} on failure).
     */
    public static void main(String[] args) {
        if (args.length == 0) {
            System.out.println("wbruntime-jni " + nativeVersion() + " (" + NativeLoader.platform()
                    + "), loaded from " + nativeSource());
            return;
        }
        if (args.length != 5) {
            System.err.println("usage: java -jar wbruntime.jar [KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM]");
            System.exit(2);
        }
        try {
            byte[] secret = whiteboxDecrypt(Path.of(args[0]).toString(), args[1], args[2], args[3],
                    Integer.parseInt(args[4]));
            System.out.println(new String(secret, StandardCharsets.UTF_8));
            Arrays.fill(secret, (byte) 0);
        } catch (WhiteboxException e) {
            System.err.println("error " + e.getMessage());
            System.exit(1);
        } catch (NumberFormatException e) {
            System.err.println("usage: ALGORITHM is 0 (AES-256) or 1 (SM4)");
            System.exit(2);
        }
    }
}
