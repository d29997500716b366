package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key file error carries the runtime's message for the failure, passed on as it is: why,
 * and the key file's path (the directory joined with the file name, as given).
 */
class KeyFileMessageTest {
    @TempDir
    Path dir;

    private static void namesTheFile(WhiteboxException e, Path path, String why) {
        assertTrue(e.getMessage().contains(path.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void aMissingKeyFileIsNamedWithWhy() throws Exception {
        Vectors.Case v = JcaTest.find("sm4-standard.wbkey");
        Path missing = dir.resolve("missing.wbkey");
        String d = dir.toString();
        namesTheFile(VectorsTest.expect("01000001", () -> Whitebox.whiteboxDecrypt(d, "missing.wbkey",
                v.iv(), v.ciphertext(), 1)), missing, "no such file");
        namesTheFile(VectorsTest.expect("01000001", () -> Whitebox.whiteboxEncrypt(d, "missing.wbkey",
                v.iv(), new byte[] {'x'}, 1)), missing, "no such file");
        namesTheFile(VectorsTest.expect("01000001", () -> WhiteboxKey.load(missing)), missing,
                "no such file");
        WhiteboxCipher c = WhiteboxCipher.getInstance(Algorithm.SM4);
        namesTheFile(VectorsTest.expect("01000001", () -> c.init(missing.toFile(), v.ivBytes(),
                Mode.DECRYPT)), missing, "no such file");
    }

    @Test
    void aFileThatIsNoKeyFileIsNamed() throws Exception {
        Path notKey = Vectors.dir().resolve("broken-not-a-key-file.wbkey");
        namesTheFile(VectorsTest.expect("01000002", () -> WhiteboxKey.load(notKey)), notKey,
                "not a white-box key file");
    }

    @Test
    void aKeyFileInMemoryHasNoPathToName() throws Exception {
        WhiteboxException e = VectorsTest.expect("01000002",
                () -> WhiteboxKey.load(new byte[] {'n', 'o', 't', ' ', 'a', ' ', 'k', 'e', 'y'}));
        assertEquals("01000002: not a white-box key file (bad magic number)", e.getMessage());
    }
}
