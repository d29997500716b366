package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import example.DecryptSecret;
import example.JcaExample;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The README's examples are these files, quoted exactly; here they are run on the vectors
 * (and DecryptSecret's main in a fresh JVM).
 */
class ReadmeExampleTest {
    static Path sources() {
        return Path.of(System.getProperty("wbruntime.exampleSources", "src/test/java"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"example/DecryptSecret.java", "example/JcaExample.java"})
    void theReadmeQuotesTheExampleExactly(String file) throws Exception {
        String readme = Files.readString(Path.of(System.getProperty("wbruntime.readme", "README.md")));
        String source = Files.readString(sources().resolve(file));
        assertTrue(readme.contains("```java\n" + source + "```\n"),
                "sdk/java/README.md must quote " + file + " exactly, in a ```java block");
    }

    /** The repository README's "From Java" section, once it has one, quotes JcaExample too. */
    @Test
    void theRepositoryReadmeQuotesTheJcaExample() throws Exception {
        Path root = Path.of(System.getProperty("wbruntime.rootReadme", "../../README.md"));
        String readme = Files.readString(root);
        int at = readme.indexOf("## From Java");
        org.junit.jupiter.api.Assumptions.assumeTrue(at >= 0, "no Java section in " + root + " yet");
        String source = Files.readString(sources().resolve("example/JcaExample.java"));
        assertTrue(readme.indexOf("```java\n" + source + "```\n", at) > at,
                root + ": the Java section must quote example/JcaExample.java exactly");
    }

    @Test
    void decryptSecretOnEveryUnboundCase() throws Exception {
        for (Vectors.Case c : Vectors.cases()) {
            if (c.fingerprint() != null) {
                continue;
            }
            assertArrayEquals(c.plaintext(), DecryptSecret.decrypt(Vectors.dir().toString(),
                    c.keyFile(), c.iv(), c.ciphertext(), c.algorithm()), c.name());
        }
    }

    @Test
    void decryptSecretMainPrintsTheSecretOrTheError() throws Exception {
        Vectors.Case c = JcaTest.find("aes-256-external.wbkey");
        List<String> ok = child(Vectors.dir().toString(), c.keyFile(), c.iv(), c.ciphertext(), "0");
        assertEquals(List.of(new String(c.plaintext(), StandardCharsets.UTF_8), "exit 0"), ok);
        List<String> bad = child(Vectors.dir().toString(), "missing.wbkey", c.iv(), c.ciphertext(), "0");
        assertEquals(2, bad.size(), String.join("\n", bad));
        assertTrue(bad.get(0).startsWith("error 01000001: "), bad.get(0));
        assertEquals("exit 1", bad.get(1));
        List<String> usage = child();
        assertEquals(2, usage.size(), String.join("\n", usage));
        assertTrue(usage.get(0).startsWith("usage: "), usage.get(0));
        assertEquals("exit 2", usage.get(1));
    }

    @Test
    void jcaExampleOnEveryUnboundAesCase() throws Exception {
        for (Vectors.Case c : Vectors.cases()) {
            if (c.algorithm() != 0 || c.fingerprint() != null) {
                continue;
            }
            assertArrayEquals(c.plaintext(),
                    JcaExample.decrypt(c.path(), c.ivBytes(), c.ciphertextBytes()), c.name());
        }
    }

    private static List<String> child(String... args) throws Exception {
        return LoaderTest.child("example.DecryptSecret", Map.of(), List.of(), args);
    }
}
