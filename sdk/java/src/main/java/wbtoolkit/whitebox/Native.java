package wbtoolkit.whitebox;

/**
 * The methods of the JNI library ({@code sdk/java/native}, crate wbruntime-jni). Every one
 * throws the {@link WhiteboxException} subclass of the runtime's code (through {@link
 * WhiteboxException#fromNative}), or {@link IllegalStateException} for a handle that names no
 * loaded key. Handles are numbers in the library's table, never pointers: a stale one cannot
 * reach freed memory.
 */
final class Native {
    static {
        NativeLoader.load();
    }

    private Native() {}

    /** Loads a key file held in memory (copied); {@code algorithm} -1 accepts either. */
    static native long loadBytes(byte[] keyFile, String fingerprint, int algorithm)
            throws WhiteboxException;

    /** Reads and loads the key file at {@code path}. */
    static native long loadFile(String path, String fingerprint, int algorithm)
            throws WhiteboxException;

    static native byte[] decrypt(long handle, byte[] iv, byte[] ciphertext) throws WhiteboxException;

    static native byte[] decryptB64(long handle, String ivB64, String ciphertextB64)
            throws WhiteboxException;

    static native byte[] encrypt(long handle, byte[] iv, byte[] plaintext) throws WhiteboxException;

    static native String backend(long handle);

    static native int algorithm(long handle);

    static native boolean spaceHard(long handle);

    /** Forgets a handle; unknown or already freed handles are ignored. */
    static native void free(long handle);

    static native byte[] whiteboxDecrypt(
            String keyDir, String keyFile, String ivB64, String ciphertextB64, int algorithm,
            String fingerprint) throws WhiteboxException;

    static native String whiteboxEncrypt(
            String keyDir, String keyFile, String ivB64, byte[] plaintext, int algorithm,
            String fingerprint) throws WhiteboxException;

    static native String version();
}
