package wbtoolkit.whitebox;

import java.io.File;
import java.util.Arrays;

/**
 * A cipher object in the shape of the KMS Java SDK: {@code getInstance(Algorithm)}, {@code
 * init(keyFile, iv, Mode)}, {@code update(...)}, {@code doFinal()}.
 *
 * <p>CBC with PKCS#7 padding needs the whole message before the padding can be checked (or
 * added), so {@code update} buffers and returns an empty array; {@code doFinal} returns the
 * whole result. After {@code doFinal} the cipher is ready for another message with the same
 * key and IV (draw a new IV and call {@code init} again before encrypting another message).
 * The buffered input is wiped after use.
 *
 * <p>Not thread-safe (like {@code javax.crypto.Cipher}): use one per thread. Many ciphers can
 * share one {@link WhiteboxKey} through {@link #init(WhiteboxKey, byte[], Mode)}.
 */
public final class WhiteboxCipher implements AutoCloseable {
    private final Algorithm algorithm;
    private WhiteboxKey key;
    private boolean ownsKey;
    private byte[] iv;
    private Mode mode;
    private byte[] buf = new byte[0];
    private int len;

    private WhiteboxCipher(Algorithm algorithm) {
        this.algorithm = algorithm;
    }

    /** A cipher for key files of {@code algorithm}. */
    public static WhiteboxCipher getInstance(Algorithm algorithm) {
        if (algorithm == null) {
            throw new NullPointerException("algorithm");
        }
        return new WhiteboxCipher(algorithm);
    }

    /**
     * Loads {@code keyFile} (a bound file is checked against this device) and prepares a
     * message.
     *
     * @throws InvalidArgumentException 01000008 if the file holds the other algorithm, 01000009
     *     for an IV that is not 16 bytes
     * @throws EncryptionUnsupportedException 01000018 for {@link Mode#ENCRYPT} with a key file
     *     that only decrypts
     */
    public void init(File keyFile, byte[] iv, Mode mode) throws WhiteboxException {
        init(keyFile, iv, mode, null);
    }

    /** {@link #init(File, byte[], Mode)} with this device's fingerprint (null: collect it). */
    public void init(File keyFile, byte[] iv, Mode mode, String fingerprint)
            throws WhiteboxException {
        Args.nonNull(keyFile, "keyFile");
        check(iv, mode);
        WhiteboxKey loaded = WhiteboxKey.load(keyFile.toPath(), fingerprint, algorithm);
        try {
            start(loaded, true, iv, mode);
        } catch (WhiteboxException | RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    /** Prepares a message with a key loaded elsewhere (not closed by this cipher). */
    public void init(WhiteboxKey key, byte[] iv, Mode mode) throws WhiteboxException {
        Args.nonNull(key, "key");
        check(iv, mode);
        if (key.algorithm() != algorithm) {
            throw WhiteboxException.forCode("01000008", "algorithm mismatch: asked for "
                    + algorithm.number() + " but the key file holds algorithm "
                    + key.algorithm().number());
        }
        start(key, false, iv, mode);
    }

    private static void check(byte[] iv, Mode mode) throws WhiteboxException {
        Args.iv(iv);
        Args.nonNull(mode, "mode");
    }

    private void start(WhiteboxKey k, boolean owns, byte[] iv, Mode mode) throws WhiteboxException {
        if (mode == Mode.ENCRYPT && !k.isSpaceHard()) {
            throw WhiteboxException.forCode(WhiteboxException.ENCRYPTION_UNSUPPORTED,
                    "this key file only decrypts: encryption needs a space-hard key file");
        }
        releaseKey();
        wipe();
        this.key = k;
        this.ownsKey = owns;
        this.iv = iv.clone();
        this.mode = mode;
    }

    /** Buffers {@code input}; returns an empty array (the result comes from doFinal). */
    public byte[] update(byte[] input) {
        return update(input, 0, input.length);
    }

    /** Buffers {@code input[offset, offset + length)}; returns an empty array. */
    public byte[] update(byte[] input, int offset, int length) {
        requireInit();
        if (offset < 0 || length < 0 || offset > input.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + ", length " + length);
        }
        if (len > buf.length - length) {
            int cap = Math.max(buf.length * 2, len + length);
            if (cap < 0) {
                throw new OutOfMemoryError("message too long");
            }
            byte[] bigger = Arrays.copyOf(buf, Math.max(cap, 64));
            Arrays.fill(buf, (byte) 0);
            buf = bigger;
        }
        System.arraycopy(input, offset, buf, len, length);
        len += length;
        return new byte[0];
    }

    /** Finishes the message: the plaintext (DECRYPT) or the ciphertext (ENCRYPT). */
    public byte[] doFinal() throws WhiteboxException {
        requireInit();
        byte[] message = Arrays.copyOf(buf, len);
        try {
            return mode == Mode.DECRYPT ? key.decrypt(iv, message) : key.encrypt(iv, message);
        } finally {
            Arrays.fill(message, (byte) 0);
            wipe();
        }
    }

    /** {@code update(input)} then {@link #doFinal()}. */
    public byte[] doFinal(byte[] input) throws WhiteboxException {
        update(input);
        return doFinal();
    }

    /** The algorithm this cipher was made for. */
    public Algorithm getAlgorithm() {
        return algorithm;
    }

    /** A copy of the IV given to init, or null before init. */
    public byte[] getIV() {
        return iv == null ? null : iv.clone();
    }

    /** The mode given to init, or null before init. */
    public Mode getMode() {
        return mode;
    }

    /** Wipes the buffer and closes the key if this cipher loaded it. Idempotent. */
    @Override
    public void close() {
        wipe();
        releaseKey();
        key = null;
        mode = null;
    }

    private void requireInit() {
        if (key == null) {
            throw new IllegalStateException("the cipher is not initialised (call init)");
        }
    }

    private void releaseKey() {
        if (key != null && ownsKey) {
            key.close();
        }
    }

    private void wipe() {
        Arrays.fill(buf, (byte) 0);
        len = 0;
    }
}
