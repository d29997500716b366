package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every code of README.md's runtime table maps to its exception class; the codes the vectors
 * cannot reach (null arguments, strings UTF-8 cannot hold, closed keys) are produced for real.
 */
class ErrorMappingTest {
    @ParameterizedTest
    @ValueSource(strings = {"01000001", "01000002", "01000003", "01000004", "01000005",
        "01000006", "01000007", "01000008", "01000009", "01000010", "01000011", "01000012",
        "01000014", "01000016", "01000017", "01000018", "01000019", "01000020", "01000021",
        "01000022", "09999999"})
    void everyCodeMapsToItsClass(String code) {
        WhiteboxException e = WhiteboxException.forCode(code, "message");
        assertEquals(Vectors.expectedClass(code), e.getClass());
        assertEquals(code, e.getCode());
        assertEquals(Integer.parseInt(code), e.getNumericCode());
        assertEquals(code + ": message", e.getMessage());
        assertEquals(e.getClass(), WhiteboxException.fromNative(code, "message").getClass());
    }

    @Test
    void theHierarchyFollowsThePythonPackage() {
        // EncryptionUnsupportedError is a KeyFileError and BackendError an
        // InvalidArgumentError in python/wbruntime; the Java classes nest the same way.
        assertInstanceOf(KeyFileException.class, WhiteboxException.forCode("01000018", ""));
        assertInstanceOf(InvalidArgumentException.class, WhiteboxException.forCode("01000019", ""));
        assertInstanceOf(InvalidArgumentException.class, WhiteboxException.forCode("01000017", ""));
    }

    @Test
    void nullArgumentsAre01000020() {
        String dir = Vectors.dir().toString();
        String iv = "BwcHBwcHBwcHBwcHBwcHBw==";
        VectorsTest.expect("01000020", () -> Whitebox.whiteboxDecrypt(null, "f", iv, iv, 0));
        VectorsTest.expect("01000020", () -> Whitebox.whiteboxDecrypt(dir, null, iv, iv, 0));
        VectorsTest.expect("01000020", () -> Whitebox.whiteboxDecrypt(dir, "f", null, iv, 0));
        VectorsTest.expect("01000020", () -> Whitebox.whiteboxDecrypt(dir, "f", iv, null, 0));
        VectorsTest.expect("01000020", () -> Whitebox.whiteboxEncrypt(dir, "f", iv, null, 0));
        VectorsTest.expect("01000020", () -> WhiteboxKey.load((Path) null));
        VectorsTest.expect("01000020", () -> WhiteboxKey.load((byte[]) null));
        VectorsTest.expect("01000020", () -> WhiteboxCipher.getInstance(Algorithm.SM4)
                .init((java.io.File) null, new byte[16], Mode.DECRYPT));
    }

    @Test
    void nullsRejectedByTheNativeSideToo() {
        // Past the Java checks, the native library refuses nulls with the same code.
        VectorsTest.expect("01000020", () -> Native.whiteboxDecrypt(null, "f", "", "", 0, null));
        VectorsTest.expect("01000020", () -> Native.loadBytes(null, null, -1));
        VectorsTest.expect("01000020", () -> Native.loadFile(null, null, -1));
    }

    @Test
    void unpairedSurrogatesAre01000021() {
        String dir = Vectors.dir().toString();
        String iv = "BwcHBwcHBwcHBwcHBwcHBw==";
        String bad = "key\uD800.wbkey";
        VectorsTest.expect("01000021", () -> Whitebox.whiteboxDecrypt(dir, bad, iv, iv, 0));
        VectorsTest.expect("01000021",
                () -> Whitebox.whiteboxDecryptWithFingerprint(dir, "f", iv, iv, 0, "\uDC00"));
        VectorsTest.expect("01000021", () -> WhiteboxKey.load(new byte[1], "\uD800"));
    }

    @Test
    void negativeAlgorithmNumbersAreUnknown() {
        String dir = Vectors.dir().toString();
        String iv = "BwcHBwcHBwcHBwcHBwcHBw==";
        VectorsTest.expect("01000007",
                () -> Whitebox.whiteboxDecrypt(dir, "sm4-standard.wbkey", iv, iv, -1));
        VectorsTest.expect("01000007", () -> Algorithm.fromNumber(-1));
    }

    @Test
    void aClosedOrForgedHandleIsIllegalState() throws Exception {
        WhiteboxKey key = WhiteboxKey.load(Vectors.dir().resolve("sm4-standard.wbkey"));
        key.close();
        key.close(); // idempotent
        assertTrue(key.isClosed());
        assertThrows(IllegalStateException.class, () -> key.decrypt(new byte[16], new byte[16]));
        assertThrows(IllegalStateException.class, () -> key.decryptB64("", ""));
        assertThrows(IllegalStateException.class, () -> key.encrypt(new byte[16], new byte[1]));
        assertThrows(IllegalStateException.class, key::backend);
        // A handle the library never gave out: an exception, never a crash.
        assertThrows(IllegalStateException.class,
                () -> Native.decrypt(0x7fff_ffff_ffffL, new byte[16], new byte[16]));
        Native.free(0x7fff_ffff_ffffL);
    }

    @Test
    void messagesNeverCarryThePlaintextOrKey() throws Exception {
        Vectors.Case c = Vectors.cases().get(0);
        try (WhiteboxKey key = WhiteboxKey.load(c.path(), c.fingerprint())) {
            byte[] ct = c.ciphertextBytes();
            ct[ct.length - 1] ^= 1; // bad padding
            DecryptionException e = assertThrows(DecryptionException.class,
                    () -> key.decrypt(c.ivBytes(), ct));
            assertEquals("01000011: decryption failed (wrong key, corrupted ciphertext, or bad padding)",
                    e.getMessage());
        }
    }
}
