package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** WhiteboxCipher's contract beyond the vectors. */
class CipherTest {
    @Test
    void notInitialisedIsIllegalState() {
        WhiteboxCipher c = WhiteboxCipher.getInstance(Algorithm.AES_256);
        assertThrows(IllegalStateException.class, () -> c.update(new byte[1]));
        assertThrows(IllegalStateException.class, c::doFinal);
        assertThrows(NullPointerException.class, () -> WhiteboxCipher.getInstance(null));
    }

    @Test
    void initChecksTheIvAndTheMode() throws Exception {
        Vectors.Case v = JcaTest.find("sm4-standard.wbkey");
        WhiteboxCipher c = WhiteboxCipher.getInstance(Algorithm.SM4);
        VectorsTest.expect("01000009", () -> c.init(v.path().toFile(), new byte[15], Mode.DECRYPT));
        VectorsTest.expect("01000020", () -> c.init(v.path().toFile(), null, Mode.DECRYPT));
        VectorsTest.expect("01000020", () -> c.init(v.path().toFile(), new byte[16], null));
        VectorsTest.expect("01000018", () -> c.init(v.path().toFile(), new byte[16], Mode.ENCRYPT));
        VectorsTest.expect("01000001", () -> c.init(new java.io.File("/nonexistent.wbkey"),
                new byte[16], Mode.DECRYPT));
    }

    @Test
    void reInitAndClose() throws Exception {
        Vectors.Case sm4 = JcaTest.find("sm4-standard.wbkey");
        WhiteboxCipher c = WhiteboxCipher.getInstance(Algorithm.SM4);
        {
            c.init(sm4.path().toFile(), sm4.ivBytes(), Mode.DECRYPT);
            assertEquals(Mode.DECRYPT, c.getMode());
            assertArrayEquals(sm4.ivBytes(), c.getIV());
            c.update(new byte[5]); // abandoned by the re-init
            c.init(sm4.path().toFile(), sm4.ivBytes(), Mode.DECRYPT);
            assertArrayEquals(sm4.plaintext(), c.doFinal(sm4.ciphertextBytes()));
            c.close();
            assertThrows(IllegalStateException.class, c::doFinal);
            c.close(); // idempotent
        }
    }

    @Test
    void aFailedDoFinalLeavesTheCipherReady() throws Exception {
        Vectors.Case v = JcaTest.find("sm4-standard.wbkey");
        try (WhiteboxCipher c = WhiteboxCipher.getInstance(Algorithm.SM4)) {
            c.init(v.path().toFile(), v.ivBytes(), Mode.DECRYPT);
            VectorsTest.expect("01000011", () -> c.doFinal(new byte[3]));
            assertArrayEquals(v.plaintext(), c.doFinal(v.ciphertextBytes()));
        }
    }
}
