package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.Security;
import javax.crypto.BadPaddingException;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The JCA provider beyond the vectors: names, keys, modes, errors. */
class JcaTest {
    static final WhiteboxProvider P = new WhiteboxProvider();

    static Vectors.Case find(String keyFile) {
        return Vectors.cases().stream().filter(c -> c.keyFile().equals(keyFile)).findFirst().orElseThrow();
    }

    @Test
    void unsignedProviderObjectWorksOnThisJdk() throws Exception {
        // OpenJDK does not check JCE provider signatures; Oracle JDK builds would refuse an
        // unsigned provider for Cipher (see README.md).
        Cipher c = Cipher.getInstance("WBAES256/CBC/PKCS5Padding", P);
        assertEquals(P, c.getProvider());
        assertNotNull(Cipher.getInstance("WBSM4/CBC/PKCS5Padding", P));
        assertNotNull(Cipher.getInstance("WBSM4/CBC/PKCS7Padding", P));
        assertNotNull(Cipher.getInstance("WBSM4", P));
    }

    @Test
    void registeredByName() throws Exception {
        Security.addProvider(new WhiteboxProvider());
        try {
            Vectors.Case v = find("sm4-standard.wbkey");
            Cipher c = Cipher.getInstance("WBSM4/CBC/PKCS5Padding", WhiteboxProvider.NAME);
            c.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(v.path(), Algorithm.SM4),
                    new IvParameterSpec(v.ivBytes()));
            assertArrayEquals(v.plaintext(), c.doFinal(v.ciphertextBytes()));
            // Without naming the provider, the key class selects it.
            Cipher any = Cipher.getInstance("WBSM4/CBC/PKCS5Padding");
            any.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(v.path(), Algorithm.SM4),
                    new IvParameterSpec(v.ivBytes()));
            assertArrayEquals(v.plaintext(), any.doFinal(v.ciphertextBytes()));
        } finally {
            Security.removeProvider(WhiteboxProvider.NAME);
        }
    }

    @Test
    void otherModesAndPaddingsAreRefused() {
        assertThrows(NoSuchAlgorithmException.class, () -> Cipher.getInstance("WBAES256/ECB/PKCS5Padding", P));
        assertThrows(javax.crypto.NoSuchPaddingException.class, () -> Cipher.getInstance("WBAES256/CBC/NoPadding", P));
        assertThrows(NoSuchAlgorithmException.class, () -> Cipher.getInstance("AES/CBC/PKCS5Padding", P));
    }

    @Test
    void wrongKeysAreInvalidKeyExceptions() throws Exception {
        Vectors.Case sm4 = find("sm4-standard.wbkey");
        IvParameterSpec iv = new IvParameterSpec(sm4.ivBytes());
        Cipher aes = Cipher.getInstance("WBAES256/CBC/PKCS5Padding", P);
        assertThrows(InvalidKeyException.class,
                () -> aes.init(Cipher.DECRYPT_MODE, new SecretKeySpec(new byte[32], "AES"), iv));
        // A WBSM4 key for a WBAES256 cipher.
        assertThrows(InvalidKeyException.class,
                () -> aes.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(sm4.path(), Algorithm.SM4), iv));
        // A key file labelled AES-256 that holds SM4 tables: the runtime's 01000008.
        InvalidKeyException mismatch = assertThrows(InvalidKeyException.class,
                () -> aes.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(sm4.path(), Algorithm.AES_256), iv));
        assertEquals("01000008", ((WhiteboxException) mismatch.getCause()).getCode());
        // Not a key file: 01000002, a KeyFileException.
        InvalidKeyException notKey = assertThrows(InvalidKeyException.class,
                () -> aes.init(Cipher.DECRYPT_MODE, new WhiteboxKeyFile(Algorithm.AES_256, new byte[64]), iv));
        assertInstanceOf(KeyFileException.class, notKey.getCause());
        // Encrypting with a decrypt-only file: 01000018 at init.
        Cipher s = Cipher.getInstance("WBSM4/CBC/PKCS5Padding", P);
        InvalidKeyException enc = assertThrows(InvalidKeyException.class,
                () -> s.init(Cipher.ENCRYPT_MODE, WhiteboxKeyFile.fromFile(sm4.path(), Algorithm.SM4), iv));
        assertInstanceOf(EncryptionUnsupportedException.class, enc.getCause());
        // Decryption needs the IV.
        assertThrows(InvalidKeyException.class,
                () -> s.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(sm4.path(), Algorithm.SM4)));
    }

    @Test
    void badPaddingIsBadPaddingException() throws Exception {
        Vectors.Case v = find("aes-256-standard.wbkey");
        Cipher c = Cipher.getInstance("WBAES256/CBC/PKCS5Padding", P);
        c.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(v.path(), Algorithm.AES_256),
                new IvParameterSpec(v.ivBytes()));
        byte[] ct = v.ciphertextBytes();
        ct[ct.length - 1] ^= 1;
        BadPaddingException e = assertThrows(BadPaddingException.class, () -> c.doFinal(ct));
        assertInstanceOf(DecryptionException.class, e.getCause());
        assertThrows(BadPaddingException.class, () -> c.doFinal(new byte[0]));
        assertThrows(BadPaddingException.class, () -> c.doFinal(new byte[17]));
        // The cipher is usable again after a failure.
        assertArrayEquals(v.plaintext(), c.doFinal(v.ciphertextBytes()));
    }

    @Test
    void encryptWithARandomIvAndOutputBuffers() throws Exception {
        Vectors.Case v = find("sm4-space-hard.wbkey");
        WhiteboxKeyFile key = WhiteboxKeyFile.fromFile(v.path(), Algorithm.SM4);
        assertEquals("WBSM4", key.getAlgorithm());
        assertEquals("WBKEY", key.getFormat());
        Cipher enc = Cipher.getInstance("WBSM4/CBC/PKCS5Padding", P);
        enc.init(Cipher.ENCRYPT_MODE, key);
        byte[] iv = enc.getIV();
        assertEquals(16, iv.length);
        assertNull(enc.getParameters());
        byte[] secret = "token-123".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(16, enc.getOutputSize(secret.length));
        byte[] ct = enc.doFinal(secret);
        Cipher dec = Cipher.getInstance("WBSM4/CBC/PKCS5Padding", P);
        dec.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(iv));
        byte[] small = new byte[4];
        assertThrows(ShortBufferException.class, () -> dec.doFinal(ct, 0, ct.length, small, 0));
        byte[] out = new byte[dec.getOutputSize(ct.length)];
        int n = dec.doFinal(ct, 0, ct.length, out, 0); // retried after the short buffer
        assertArrayEquals(secret, java.util.Arrays.copyOf(out, n));
        assertArrayEquals(v.plaintext(), Whitebox.whiteboxDecrypt(Vectors.dir().toString(),
                v.keyFile(), v.iv(), v.ciphertext(), 1));
    }

    @Test
    void destroyedKeyFilesCannotBeUsed() throws Exception {
        Vectors.Case v = find("sm4-standard.wbkey");
        WhiteboxKeyFile key = WhiteboxKeyFile.fromFile(v.path(), Algorithm.SM4);
        key.destroy();
        Cipher c = Cipher.getInstance("WBSM4/CBC/PKCS5Padding", P);
        assertThrows(InvalidKeyException.class,
                () -> c.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(v.ivBytes())));
    }
}
