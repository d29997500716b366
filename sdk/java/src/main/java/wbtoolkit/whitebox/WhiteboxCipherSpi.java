package wbtoolkit.whitebox;

import java.security.AlgorithmParameters;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.security.InvalidParameterException;
import java.security.Key;
import java.security.NoSuchAlgorithmException;
import java.security.ProviderException;
import java.security.SecureRandom;
import java.security.spec.AlgorithmParameterSpec;
import java.security.spec.InvalidParameterSpecException;
import java.util.Arrays;
import java.util.Locale;
import javax.crypto.BadPaddingException;
import javax.crypto.Cipher;
import javax.crypto.CipherSpi;
import javax.crypto.IllegalBlockSizeException;
import javax.crypto.NoSuchPaddingException;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;

/**
 * {@code WBAES256/CBC/PKCS5Padding} and {@code WBSM4/CBC/PKCS5Padding} over a {@link
 * WhiteboxKey}. Input is buffered until {@code doFinal} (CBC with padding needs the whole
 * message); decryption failures of every kind are one {@link BadPaddingException} whose cause
 * is the runtime's {@link DecryptionException} (01000011), as the runtime never says why.
 */
final class WhiteboxCipherSpi extends CipherSpi {
    private static final int BLOCK = 16;

    private final Algorithm algorithm;
    private WhiteboxKeyFile keyFile;
    private WhiteboxKey key;
    private byte[] iv;
    private int opmode;
    private byte[] buf = new byte[0];
    private int len;

    WhiteboxCipherSpi(Algorithm algorithm) {
        this.algorithm = algorithm;
    }

    @Override
    protected void engineSetMode(String mode) throws NoSuchAlgorithmException {
        if (!"CBC".equalsIgnoreCase(mode)) {
            throw new NoSuchAlgorithmException("only CBC mode: " + mode);
        }
    }

    @Override
    protected void engineSetPadding(String padding) throws NoSuchPaddingException {
        String p = padding.toUpperCase(Locale.ROOT);
        if (!p.equals("PKCS5PADDING") && !p.equals("PKCS7PADDING")) {
            throw new NoSuchPaddingException("only PKCS5Padding (PKCS#7): " + padding);
        }
    }

    @Override
    protected int engineGetBlockSize() {
        return BLOCK;
    }

    @Override
    protected int engineGetOutputSize(int inputLen) {
        long total = (long) len + Math.max(inputLen, 0);
        long out = opmode == Cipher.ENCRYPT_MODE ? (total / BLOCK + 1) * BLOCK : total;
        return (int) Math.min(out, Integer.MAX_VALUE);
    }

    @Override
    protected byte[] engineGetIV() {
        return iv == null ? null : iv.clone();
    }

    /** No parameters object (there is no AlgorithmParameters for WBAES256): use getIV(). */
    @Override
    protected AlgorithmParameters engineGetParameters() {
        return null;
    }

    @Override
    protected int engineGetKeySize(Key key) throws InvalidKeyException {
        WhiteboxKeyFile k = keyFile(key);
        return k.algorithm() == Algorithm.AES_256 ? 256 : 128;
    }

    @Override
    protected void engineInit(int opmode, Key key, SecureRandom random) throws InvalidKeyException {
        if (opmode == Cipher.DECRYPT_MODE) {
            throw new InvalidKeyException("decryption needs the IV: pass an IvParameterSpec");
        }
        byte[] fresh = new byte[BLOCK];
        (random != null ? random : new SecureRandom()).nextBytes(fresh);
        init(opmode, key, fresh);
    }

    @Override
    protected void engineInit(int opmode, Key key, AlgorithmParameterSpec params, SecureRandom random)
            throws InvalidKeyException, InvalidAlgorithmParameterException {
        if (params == null) {
            if (opmode == Cipher.DECRYPT_MODE) {
                throw new InvalidAlgorithmParameterException("decryption needs an IvParameterSpec");
            }
            engineInit(opmode, key, random);
            return;
        }
        if (!(params instanceof IvParameterSpec)) {
            throw new InvalidAlgorithmParameterException("an IvParameterSpec is needed, not "
                    + params.getClass().getName());
        }
        byte[] given = ((IvParameterSpec) params).getIV();
        if (given.length != BLOCK) {
            throw new InvalidAlgorithmParameterException("the IV must be 16 bytes, got " + given.length);
        }
        init(opmode, key, given);
    }

    @Override
    protected void engineInit(int opmode, Key key, AlgorithmParameters params, SecureRandom random)
            throws InvalidKeyException, InvalidAlgorithmParameterException {
        IvParameterSpec spec = null;
        if (params != null) {
            try {
                spec = params.getParameterSpec(IvParameterSpec.class);
            } catch (InvalidParameterSpecException e) {
                throw new InvalidAlgorithmParameterException("parameters without an IV", e);
            }
        }
        engineInit(opmode, key, spec, random);
    }

    private static WhiteboxKeyFile keyFile(Key key) throws InvalidKeyException {
        if (!(key instanceof WhiteboxKeyFile)) {
            throw new InvalidKeyException("a WhiteboxKeyFile is needed, not "
                    + (key == null ? "null" : key.getClass().getName()));
        }
        return (WhiteboxKeyFile) key;
    }

    private void init(int opmode, Key key, byte[] iv) throws InvalidKeyException {
        if (opmode != Cipher.ENCRYPT_MODE && opmode != Cipher.DECRYPT_MODE) {
            throw new InvalidParameterException("only ENCRYPT_MODE and DECRYPT_MODE");
        }
        WhiteboxKeyFile k = keyFile(key);
        if (k.algorithm() != algorithm) {
            throw new InvalidKeyException("a " + algorithm.jcaName() + " key file is needed, not "
                    + k.getAlgorithm());
        }
        if (k != keyFile || this.key == null) {
            WhiteboxKey loaded;
            try {
                loaded = WhiteboxKey.load(k.bytes(), k.getFingerprint(), algorithm);
            } catch (WhiteboxException e) {
                throw new InvalidKeyException(e.getMessage(), e);
            } catch (IllegalStateException e) {
                throw new InvalidKeyException(e.getMessage(), e);
            }
            if (this.key != null) {
                this.key.close();
            }
            this.key = loaded;
            this.keyFile = k;
        }
        if (opmode == Cipher.ENCRYPT_MODE && !this.key.isSpaceHard()) {
            WhiteboxException e = WhiteboxException.forCode(WhiteboxException.ENCRYPTION_UNSUPPORTED,
                    "this key file only decrypts: encryption needs a space-hard key file");
            throw new InvalidKeyException(e.getMessage(), e);
        }
        this.opmode = opmode;
        this.iv = iv.clone();
        wipe();
    }

    @Override
    protected byte[] engineUpdate(byte[] input, int offset, int length) {
        append(input, offset, length);
        return new byte[0];
    }

    @Override
    protected int engineUpdate(byte[] input, int offset, int length, byte[] output, int outOffset) {
        append(input, offset, length);
        return 0;
    }

    @Override
    protected byte[] engineDoFinal(byte[] input, int offset, int length)
            throws IllegalBlockSizeException, BadPaddingException {
        byte[] message = message(input, offset, length);
        try {
            return run(message);
        } finally {
            Arrays.fill(message, (byte) 0);
            wipe();
        }
    }

    @Override
    protected int engineDoFinal(byte[] input, int offset, int length, byte[] output, int outOffset)
            throws ShortBufferException, IllegalBlockSizeException, BadPaddingException {
        byte[] message = message(input, offset, length);
        byte[] result = null;
        try {
            result = run(message);
            if (output == null || outOffset < 0 || output.length - outOffset < result.length) {
                // The state is kept (input not consumed), so the caller can retry.
                throw new ShortBufferException(result.length + " bytes of output needed");
            }
            System.arraycopy(result, 0, output, outOffset, result.length);
            wipe();
            return result.length;
        } finally {
            Arrays.fill(message, (byte) 0);
            if (result != null) {
                Arrays.fill(result, (byte) 0);
            }
        }
    }

    private byte[] message(byte[] input, int offset, int length) {
        requireInit();
        if (input == null) {
            return Arrays.copyOf(buf, len);
        }
        checkRange(input, offset, length);
        byte[] m = Arrays.copyOf(buf, len + length);
        System.arraycopy(input, offset, m, len, length);
        return m;
    }

    private byte[] run(byte[] message) throws BadPaddingException {
        try {
            return opmode == Cipher.DECRYPT_MODE ? key.decrypt(iv, message) : key.encrypt(iv, message);
        } catch (DecryptionException e) {
            BadPaddingException bad = new BadPaddingException(e.getMessage());
            bad.initCause(e);
            throw bad;
        } catch (WhiteboxException e) {
            throw new ProviderException(e.getMessage(), e);
        }
    }

    private void append(byte[] input, int offset, int length) {
        requireInit();
        if (input == null || length == 0) {
            return;
        }
        checkRange(input, offset, length);
        if (len > buf.length - length) {
            int cap = Math.max(Math.max(buf.length * 2, len + length), 64);
            if (cap < 0) {
                throw new OutOfMemoryError("message too long");
            }
            byte[] bigger = Arrays.copyOf(buf, cap);
            Arrays.fill(buf, (byte) 0);
            buf = bigger;
        }
        System.arraycopy(input, offset, buf, len, length);
        len += length;
    }

    private static void checkRange(byte[] input, int offset, int length) {
        if (offset < 0 || length < 0 || offset > input.length - length) {
            throw new IllegalArgumentException("offset " + offset + ", length " + length);
        }
    }

    private void requireInit() {
        if (key == null) {
            throw new IllegalStateException("the cipher is not initialised");
        }
    }

    private void wipe() {
        Arrays.fill(buf, (byte) 0);
        len = 0;
    }
}
