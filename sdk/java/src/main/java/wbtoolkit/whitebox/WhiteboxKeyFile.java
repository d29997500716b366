package wbtoolkit.whitebox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.util.Arrays;
import javax.security.auth.Destroyable;

/**
 * A key file as a JCA {@link Key}, for {@code Cipher.init} with the {@link WhiteboxProvider}:
 * algorithm {@code WBAES256} or {@code WBSM4}, format {@code WBKEY}, encoded form the key
 * file's bytes; optionally this device's fingerprint for a bound file (null: the runtime
 * collects it).
 */
public final class WhiteboxKeyFile implements Key, Destroyable {
    private static final long serialVersionUID = 1L;

    /** The format name {@link #getFormat()} returns. */
    public static final String FORMAT = "WBKEY";

    private final Algorithm algorithm;
    private final byte[] keyFile;
    private final String fingerprint;
    private volatile boolean destroyed;

    /** A key file held in memory (copied). */
    public WhiteboxKeyFile(Algorithm algorithm, byte[] keyFile) {
        this(algorithm, keyFile, null);
    }

    /** A key file held in memory (copied), with this device's fingerprint (or null). */
    public WhiteboxKeyFile(Algorithm algorithm, byte[] keyFile, String fingerprint) {
        if (algorithm == null || keyFile == null) {
            throw new NullPointerException(algorithm == null ? "algorithm" : "keyFile");
        }
        this.algorithm = algorithm;
        this.keyFile = keyFile.clone();
        this.fingerprint = fingerprint;
    }

    /** Reads the key file at {@code path}. */
    public static WhiteboxKeyFile fromFile(Path path, Algorithm algorithm) throws IOException {
        return fromFile(path, algorithm, null);
    }

    /** Reads the key file at {@code path}, with this device's fingerprint (or null). */
    public static WhiteboxKeyFile fromFile(Path path, Algorithm algorithm, String fingerprint)
            throws IOException {
        byte[] bytes = Files.readAllBytes(path);
        try {
            return new WhiteboxKeyFile(algorithm, bytes, fingerprint);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /** {@code WBAES256} or {@code WBSM4}. */
    @Override
    public String getAlgorithm() {
        return algorithm.jcaName();
    }

    /** {@value #FORMAT}. */
    @Override
    public String getFormat() {
        return FORMAT;
    }

    /** A copy of the key file's bytes. */
    @Override
    public byte[] getEncoded() {
        checkLive();
        return keyFile.clone();
    }

    /** The algorithm of the key file. */
    public Algorithm algorithm() {
        return algorithm;
    }

    /** The device fingerprint given, or null. */
    public String getFingerprint() {
        return fingerprint;
    }

    /** The bytes, not copied (for the provider). */
    byte[] bytes() {
        checkLive();
        return keyFile;
    }

    /** Wipes the bytes held; the key can no longer be used. */
    @Override
    public void destroy() {
        destroyed = true;
        Arrays.fill(keyFile, (byte) 0);
    }

    @Override
    public boolean isDestroyed() {
        return destroyed;
    }

    private void checkLive() {
        if (destroyed) {
            throw new IllegalStateException("the key file has been destroyed");
        }
    }

    @Override
    public String toString() {
        return "WhiteboxKeyFile(" + getAlgorithm() + ", " + keyFile.length + " bytes"
                + (fingerprint != null ? ", with fingerprint)" : ")");
    }
}
