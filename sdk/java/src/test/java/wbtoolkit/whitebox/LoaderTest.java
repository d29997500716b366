package wbtoolkit.whitebox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The native library: from the classpath resource by default, or the overrides. */
class LoaderTest {
    @Test
    void loadedFromTheResourceAndNothingLeftBehind() throws Exception {
        assertEquals("0.2.0", Whitebox.nativeVersion());
        String source = Whitebox.nativeSource();
        // The surefire JVM has no override: the library came out of the classes/jar.
        assertEquals("jar resource " + NativeLoader.resourcePath(), source);
        assertNotNull(NativeLoader.class.getResource(NativeLoader.resourcePath()));
        try (var tmp = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            assertFalse(tmp.anyMatch(p -> p.getFileName().toString().startsWith("wbruntime-jni-")
                    && p.toFile().lastModified() > ProcessHandle.current().info().startInstant()
                            .map(i -> i.toEpochMilli()).orElse(0L)),
                    "the extracted library is deleted once loaded");
        }
    }

    @Test
    void platformNames() {
        assertTrue(NativeLoader.platform().matches("(linux|macos|windows)-(x86_64|aarch64)"),
                NativeLoader.platform());
    }

    static Path libraryFile() throws Exception {
        return Path.of(NativeLoader.class.getResource(NativeLoader.resourcePath()).toURI());
    }

    static List<String> child(Map<String, String> env, List<String> jvmArgs, String... args)
            throws Exception {
        return child(ChildProbe.class.getName(), env, jvmArgs, args);
    }

    static List<String> child(String mainClass, Map<String, String> env, List<String> jvmArgs,
            String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove(NativeLoader.ENV);
        pb.environment().remove("WBRUNTIME_BACKEND");
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        out = out + "exit " + p.exitValue();
        return List.of(out.split("\n"));
    }

    static String[] sm4Case() {
        Vectors.Case v = JcaTest.find("sm4-standard.wbkey");
        return new String[] {Vectors.dir().toString(), v.keyFile(), v.iv(), v.ciphertext(), "1"};
    }

    @Test
    void propertyOverride() throws Exception {
        Path lib = libraryFile();
        List<String> out = child(Map.of(), List.of("-D" + NativeLoader.PROPERTY + "=" + lib), sm4Case());
        assertEquals(List.of("source property " + NativeLoader.PROPERTY + ": " + lib, "ok", "exit 0"), out);
    }

    @Test
    void environmentOverride() throws Exception {
        Path lib = libraryFile();
        List<String> out = child(Map.of(NativeLoader.ENV, lib.toString()), List.of(), sm4Case());
        assertEquals(List.of("source environment " + NativeLoader.ENV + ": " + lib, "ok", "exit 0"), out);
    }

    @Test
    void aMissingOverrideFailsClearly() throws Exception {
        List<String> out = child(Map.of(), List.of("-D" + NativeLoader.PROPERTY + "=/nonexistent/lib.so"));
        String all = String.join("\n", out);
        assertTrue(all.contains("UnsatisfiedLinkError") && all.contains("/nonexistent/lib.so"), all);
        assertFalse(all.endsWith("exit 0"), all);
    }

    /** 01000019 needs WBRUNTIME_BACKEND set before the runtime first runs: a fresh JVM. */
    @Test
    void unknownBackendIs01000019() throws Exception {
        List<String> out = child(Map.of("WBRUNTIME_BACKEND", "no-such-backend"), List.of(), sm4Case());
        assertEquals("code 01000019 BackendException", out.get(1), String.join("\n", out));
    }

    /** A forced backend runs, and gives the same plaintexts. */
    @Test
    void forcedSoftBackend() throws Exception {
        List<String> out = child(Map.of("WBRUNTIME_BACKEND", "soft"), List.of(), sm4Case());
        assertEquals("ok", out.get(1), String.join("\n", out));
        assertTrue(new File(out.get(0).substring("source jar resource ".length())).getPath().contains("native"));
    }
}
