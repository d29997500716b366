package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every case of test-vectors/sdk/vectors.json through every surface of the SDK: the one-shot
 * calls, the key handle, WhiteboxCipher and the JCA Cipher; every error case with its code and
 * exception class.
 */
class VectorsTest {
    static final WhiteboxProvider PROVIDER = new WhiteboxProvider();

    static Stream<Vectors.Case> cases() {
        return Vectors.cases().stream();
    }

    static Stream<Vectors.Case> encryptingCases() {
        return Vectors.cases().stream().filter(Vectors.Case::encrypts);
    }

    static Stream<Vectors.ErrorCase> errors() {
        return Vectors.errors().stream();
    }

    @Test
    void theVectorsAreAllThere() {
        List<Vectors.Case> cases = Vectors.cases();
        assertTrue(cases.size() >= 18, "cases: " + cases.size());
        assertTrue(Vectors.errors().size() >= 40, "errors: " + Vectors.errors().size());
        assertTrue(cases.stream().anyMatch(Vectors.Case::encrypts));
        assertTrue(cases.stream().anyMatch(c -> c.fingerprint() != null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void whiteboxDecrypt(Vectors.Case c) throws Exception {
        byte[] got = Whitebox.whiteboxDecryptWithFingerprint(Vectors.dir().toString(), c.keyFile(),
                c.iv(), c.ciphertext(), c.algorithm(), c.fingerprint());
        assertArrayEquals(c.plaintext(), got);
        if (c.fingerprint() == null) {
            assertArrayEquals(c.plaintext(), Whitebox.whiteboxDecrypt(Vectors.dir().toString(),
                    c.keyFile(), c.iv(), c.ciphertext(), c.algorithm()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void keyHandle(Vectors.Case c) throws Exception {
        try (WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint())) {
            assertEquals(c.alg(), key.algorithm());
            assertEquals(c.encrypts(), key.isSpaceHard());
            assertArrayEquals(c.plaintext(), key.decrypt(c.ivBytes(), c.ciphertextBytes()));
            assertArrayEquals(c.plaintext(), key.decryptB64(c.iv(), c.ciphertext()));
            // Twice: a long message re-lays the tables out for the backend on first use.
            assertArrayEquals(c.plaintext(), key.decrypt(c.ivBytes(), c.ciphertextBytes()));
            assertTrue(List.of("soft", "portable", "neon", "avx2", "avx512vbmi").contains(key.backend()));
        }
        byte[] bytes = java.nio.file.Files.readAllBytes(c.path());
        try (WhiteboxKey key = WhiteboxKey.load(bytes, c.fingerprint(), c.alg())) {
            assertArrayEquals(c.plaintext(), key.decrypt(c.ivBytes(), c.ciphertextBytes()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void whiteboxCipherInChunks(Vectors.Case c) throws Exception {
        try (WhiteboxCipher cipher = WhiteboxCipher.getInstance(c.alg())) {
            cipher.init(c.path().toFile(), c.ivBytes(), Mode.DECRYPT, c.fingerprint());
            byte[] ct = c.ciphertextBytes();
            // Uneven chunks: 1 byte, 7 bytes, then 100 at a time.
            int[] sizes = {1, 7};
            int off = 0;
            for (int i = 0; off < ct.length; i++) {
                int n = Math.min(i < sizes.length ? sizes[i] : 100, ct.length - off);
                assertEquals(0, cipher.update(ct, off, n).length, "update buffers");
                off += n;
            }
            assertArrayEquals(c.plaintext(), cipher.doFinal());
            // Ready for another message with the same key and IV.
            assertArrayEquals(c.plaintext(), cipher.doFinal(ct));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void jcaCipher(Vectors.Case c) throws Exception {
        Cipher cipher = Cipher.getInstance(c.alg().jcaName() + "/CBC/PKCS5Padding", PROVIDER);
        WhiteboxKeyFile key = WhiteboxKeyFile.fromFile(c.path(), c.alg(), c.fingerprint());
        cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(c.ivBytes()));
        byte[] ct = c.ciphertextBytes();
        int half = ct.length / 2;
        assertEquals(0, cipher.update(ct, 0, half).length);
        assertArrayEquals(c.plaintext(), cipher.doFinal(ct, half, ct.length - half));
        assertArrayEquals(c.plaintext(), cipher.doFinal(ct));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("encryptingCases")
    void encryptGivesTheVectorCiphertext(Vectors.Case c) throws Exception {
        String dir = Vectors.dir().toString();
        assertEquals(c.ciphertext(), Whitebox.whiteboxEncryptWithFingerprint(dir, c.keyFile(), c.iv(),
                c.plaintext(), c.algorithm(), c.fingerprint()));
        if (c.fingerprint() == null) {
            assertEquals(c.ciphertext(),
                    Whitebox.whiteboxEncrypt(dir, c.keyFile(), c.iv(), c.plaintext(), c.algorithm()));
        }
        try (WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint())) {
            assertArrayEquals(c.ciphertextBytes(), key.encrypt(c.ivBytes(), c.plaintext()));
        }
        try (WhiteboxCipher cipher = WhiteboxCipher.getInstance(c.alg())) {
            cipher.init(c.path().toFile(), c.ivBytes(), Mode.ENCRYPT, c.fingerprint());
            byte[] p = c.plaintext();
            cipher.update(p, 0, p.length / 3);
            cipher.update(p, p.length / 3, p.length - p.length / 3);
            assertArrayEquals(c.ciphertextBytes(), cipher.doFinal());
        }
        Cipher jca = Cipher.getInstance(c.alg().jcaName() + "/CBC/PKCS5Padding", PROVIDER);
        jca.init(Cipher.ENCRYPT_MODE, WhiteboxKeyFile.fromFile(c.path(), c.alg(), c.fingerprint()),
                new IvParameterSpec(c.ivBytes()));
        assertArrayEquals(c.ciphertextBytes(), jca.doFinal(c.plaintext()));
    }

    /** The error case through the one-shot calls, which the vectors are written for. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("errors")
    void errorCaseGivesItsCodeAndClass(Vectors.ErrorCase e) {
        String dir = Vectors.dir().toString();
        Executable call = e.op().equals("encrypt")
                ? () -> Whitebox.whiteboxEncryptWithFingerprint(dir, e.keyFile(), e.iv(),
                        Base64.getDecoder().decode(e.plaintext()), e.algorithm(), e.fingerprint())
                : () -> Whitebox.whiteboxDecryptWithFingerprint(dir, e.keyFile(), e.iv(),
                        e.ciphertext(), e.algorithm(), e.fingerprint());
        expect(e.error(), call);
    }

    /**
     * The same error case through the key handle and WhiteboxCipher, wherever the handle can
     * meet it: key-file errors when loading, argument errors when decrypting, 01000018 when
     * encrypting, 01000008 when the cipher's algorithm is the other one.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("errors")
    void errorCaseThroughTheHandle(Vectors.ErrorCase e) throws Exception {
        Path path = Vectors.dir().resolve(e.keyFile());
        String code = e.error();
        switch (code) {
            case "01000001": case "01000002": case "01000004": case "01000006": case "01000016":
                expect(code, () -> WhiteboxKey.load(path, e.fingerprint()));
                if (!code.equals("01000001")) {
                    byte[] bytes = java.nio.file.Files.readAllBytes(path);
                    expect(code, () -> WhiteboxKey.load(bytes, e.fingerprint()));
                }
                Algorithm alg = Algorithm.fromNumber(e.algorithm());
                expect(code, () -> WhiteboxCipher.getInstance(alg)
                        .init(path.toFile(), new byte[16], Mode.DECRYPT, e.fingerprint()));
                break;
            case "01000008":
                Algorithm asked = Algorithm.fromNumber(e.algorithm());
                expect(code, () -> WhiteboxKey.load(path, e.fingerprint(), asked));
                expect(code, () -> WhiteboxCipher.getInstance(asked)
                        .init(path.toFile(), new byte[16], Mode.DECRYPT, e.fingerprint()));
                break;
            case "01000007":
                expect(code, () -> Algorithm.fromNumber(e.algorithm()));
                break;
            case "01000009": case "01000010": case "01000011":
                try (WhiteboxKey key = WhiteboxKey.load(path, e.fingerprint())) {
                    expect(code, () -> key.decryptB64(e.iv(), e.ciphertext()));
                    if (code.equals("01000011")) {
                        byte[] ct = Base64.getDecoder().decode(e.ciphertext());
                        byte[] iv = Base64.getDecoder().decode(e.iv());
                        expect(code, () -> key.decrypt(iv, ct));
                        WhiteboxCipher cipher = WhiteboxCipher.getInstance(key.algorithm());
                        cipher.init(key, iv, Mode.DECRYPT);
                        expect(code, () -> cipher.doFinal(ct));
                    }
                    if (code.equals("01000009")) {
                        byte[] iv = Base64.getDecoder().decode(e.iv());
                        expect(code, () -> key.decrypt(iv, new byte[16]));
                        expect(code, () -> WhiteboxCipher.getInstance(key.algorithm())
                                .init(key, iv, Mode.DECRYPT));
                    }
                }
                break;
            case "01000018":
                try (WhiteboxKey key = WhiteboxKey.load(path, e.fingerprint())) {
                    byte[] iv = Base64.getDecoder().decode(e.iv());
                    expect(code, () -> key.encrypt(iv, Base64.getDecoder().decode(e.plaintext())));
                    expect(code, () -> WhiteboxCipher.getInstance(key.algorithm())
                            .init(path.toFile(), iv, Mode.ENCRYPT));
                }
                break;
            default:
                assumeTrue(false, "no handle path for " + code);
        }
    }

    static WhiteboxException expect(String code, Executable call) {
        WhiteboxException ex = assertThrows(WhiteboxException.class, call);
        assertEquals(code, ex.getCode(), ex.getMessage());
        assertEquals(Vectors.expectedClass(code), ex.getClass(), ex.getMessage());
        assertTrue(ex.getMessage().startsWith(code + ": "), ex.getMessage());
        return ex;
    }
}
