package wbtoolkit.whitebox;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded key file: load once, decrypt many times, from any number of threads, close once.
 *
 * <p>Thread-safe. Calls take a read lock, {@link #close()} the write lock: {@code close()}
 * waits for the calls in flight, and any call after it throws {@link IllegalStateException}.
 * A key that is never closed is freed when it becomes unreachable, but close it (try-with-
 * resources) to free its tables (up to a few MB) at a known time.
 *
 * <p>Decrypted arrays are the caller's: wipe them ({@code Arrays.fill(plain, (byte) 0)}) once
 * used. The native side wipes its own copies.
 */
public final class WhiteboxKey implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Cleaner.Cleanable cleanable;
    private final Algorithm algorithm;
    private final boolean spaceHard;
    /** The native handle; 0 once closed. Written under the write lock. */
    private volatile long handle;

    private WhiteboxKey(long handle) {
        this.handle = handle;
        this.cleanable = CLEANER.register(this, new Free(handle));
        this.algorithm = Native.algorithm(handle) == Algorithm.SM4.number()
                ? Algorithm.SM4 : Algorithm.AES_256;
        this.spaceHard = Native.spaceHard(handle);
    }

    /** Frees a handle once, from {@link #close()} or when the key is unreachable. */
    private static final class Free implements Runnable {
        private final long handle;

        Free(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.free(handle);
        }
    }

    /** Loads the key file at {@code path}; a bound file is checked against this device. */
    public static WhiteboxKey load(Path path) throws WhiteboxException {
        return load(path, null, null);
    }

    /**
     * Loads the key file at {@code path}.
     *
     * @param fingerprint this device's fingerprint ({@code wbfingerprint}), or null to collect
     *     it when the file is bound
     */
    public static WhiteboxKey load(Path path, String fingerprint) throws WhiteboxException {
        return load(path, fingerprint, null);
    }

    /**
     * Loads the key file at {@code path}, which must hold {@code expected} (null: either).
     *
     * @throws InvalidArgumentException 01000008 if it holds the other algorithm
     */
    public static WhiteboxKey load(Path path, String fingerprint, Algorithm expected)
            throws WhiteboxException {
        Args.nonNull(path, "path");
        String p = Args.text(path.toString(), "path");
        Args.optionalText(fingerprint, "fingerprint");
        return new WhiteboxKey(Native.loadFile(p, fingerprint, number(expected)));
    }

    /** Loads a key file held in memory (the bytes are copied). */
    public static WhiteboxKey load(byte[] keyFile) throws WhiteboxException {
        return load(keyFile, null, null);
    }

    /** Loads a key file held in memory, with this device's fingerprint (null: collect it). */
    public static WhiteboxKey load(byte[] keyFile, String fingerprint) throws WhiteboxException {
        return load(keyFile, fingerprint, null);
    }

    /** Loads a key file held in memory, which must hold {@code expected} (null: either). */
    public static WhiteboxKey load(byte[] keyFile, String fingerprint, Algorithm expected)
            throws WhiteboxException {
        Args.nonNull(keyFile, "keyFile");
        Args.optionalText(fingerprint, "fingerprint");
        return new WhiteboxKey(Native.loadBytes(keyFile, fingerprint, number(expected)));
    }

    private static int number(Algorithm a) {
        return a == null ? -1 : a.number();
    }

    /**
     * CBC-decrypts {@code ciphertext} and strips the PKCS#7 padding.
     *
     * @throws InvalidArgumentException 01000009 for an IV that is not 16 bytes
     * @throws DecryptionException 01000011 for an empty or partial-block ciphertext or bad
     *     padding (one opaque error)
     * @throws IllegalStateException if the key is closed
     */
    public byte[] decrypt(byte[] iv, byte[] ciphertext) throws WhiteboxException {
        Args.nonNull(iv, "iv");
        Args.nonNull(ciphertext, "ciphertext");
        long h = acquire();
        try {
            return Native.decrypt(h, iv, ciphertext);
        } finally {
            release();
        }
    }

    /** {@link #decrypt} with the IV and ciphertext in standard Base64 (01000010 if invalid). */
    public byte[] decryptB64(String ivB64, String ciphertextB64) throws WhiteboxException {
        Args.text(ivB64, "ivB64");
        Args.text(ciphertextB64, "ciphertextB64");
        long h = acquire();
        try {
            return Native.decryptB64(h, ivB64, ciphertextB64);
        } finally {
            release();
        }
    }

    /**
     * CBC-encrypts with PKCS#7 padding: space-hard key files only. Draw a fresh random IV for
     * every message.
     *
     * @throws EncryptionUnsupportedException 01000018 for external- and standard-mode files
     */
    public byte[] encrypt(byte[] iv, byte[] plaintext) throws WhiteboxException {
        Args.nonNull(iv, "iv");
        Args.nonNull(plaintext, "plaintext");
        long h = acquire();
        try {
            return Native.encrypt(h, iv, plaintext);
        } finally {
            release();
        }
    }

    /**
     * The backend long messages run on ({@code soft}, {@code portable}, {@code neon}, {@code
     * avx2}, {@code avx512vbmi}): the fastest this CPU has, or {@code WBRUNTIME_BACKEND}.
     */
    public String backend() {
        long h = acquire();
        try {
            return Native.backend(h);
        } finally {
            release();
        }
    }

    /** The key file's algorithm. */
    public Algorithm algorithm() {
        return algorithm;
    }

    /** Whether the key file is space-hard, and so also encrypts. */
    public boolean isSpaceHard() {
        return spaceHard;
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return handle == 0;
    }

    /** Frees the key, after the calls in flight have returned. Idempotent. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                handle = 0;
                cleanable.clean();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private long acquire() {
        lock.readLock().lock();
        long h = handle;
        if (h == 0) {
            lock.readLock().unlock();
            throw new IllegalStateException("the key is closed");
        }
        return h;
    }

    private void release() {
        lock.readLock().unlock();
        // Keep this object (and so its handle) alive until the native call has returned, so
        // that the cleaner cannot free the handle in the middle of it.
        Reference.reachabilityFence(this);
    }

    @Override
    public String toString() {
        return "WhiteboxKey(" + algorithm + (spaceHard ? ", space-hard" : "")
                + (isClosed() ? ", closed)" : ")");
    }
}
