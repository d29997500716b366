package wbtoolkit.whitebox;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * Loads the JNI library once per class loader. In order: the system property {@value
 * #PROPERTY}, the environment variable {@value #ENV} (each a path to the library), else the
 * copy inside the jar ({@code native/<os>-<arch>/}), extracted to a private temporary
 * directory (0700, the file 0600), loaded, and deleted at once (on Windows, which cannot delete
 * a loaded library, at exit).
 */
final class NativeLoader {
    /** System property naming the library to load instead of the jar's copy. */
    static final String PROPERTY = "wbruntime.library.path";
    /** Environment variable naming the library to load instead of the jar's copy. */
    static final String ENV = "WBRUNTIME_JNI_LIB";
    static final String LIBRARY = "wbruntime_jni";

    private static String source;

    private NativeLoader() {}

    static synchronized void load() {
        if (source != null) {
            return;
        }
        String override = System.getProperty(PROPERTY);
        if (override != null && !override.isEmpty()) {
            System.load(Paths.get(override).toAbsolutePath().toString());
            source = "property " + PROPERTY + ": " + override;
            return;
        }
        override = System.getenv(ENV);
        if (override != null && !override.isEmpty()) {
            System.load(Paths.get(override).toAbsolutePath().toString());
            source = "environment " + ENV + ": " + override;
            return;
        }
        String resource = resourcePath();
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("the wbruntime jar has no native library for "
                        + platform() + " (" + resource + "); build it (sdk/java/README.md) or "
                        + "name one with -D" + PROPERTY + "=PATH or " + ENV + "=PATH");
            }
            Path file = extract(in);
            try {
                System.load(file.toString());
            } finally {
                cleanUp(file);
            }
        } catch (IOException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError(
                    "cannot extract the wbruntime native library: " + e.getMessage());
            err.initCause(e);
            throw err;
        }
        source = "jar resource " + resource;
    }

    /** Where the library came from (after {@link #load}), for diagnostics. */
    static synchronized String source() {
        return source;
    }

    /** {@code <os>-<arch>}: linux-x86_64, linux-aarch64, macos-aarch64, windows-x86_64, ... */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("windows") ? "windows"
                : os.startsWith("mac") || os.startsWith("darwin") ? "macos"
                : os.startsWith("linux") ? "linux" : os.replaceAll("[^a-z0-9]", "");
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }

    static String resourcePath() {
        return "/native/" + platform() + "/" + System.mapLibraryName(LIBRARY);
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }

    private static Path extract(InputStream in) throws IOException {
        Path dir;
        Path file;
        if (posix()) {
            dir = Files.createTempDirectory("wbruntime-jni-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            file = Files.createFile(dir.resolve(System.mapLibraryName(LIBRARY)),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } else {
            dir = Files.createTempDirectory("wbruntime-jni-");
            file = Files.createFile(dir.resolve(System.mapLibraryName(LIBRARY)));
            // Owner-only where the file system allows it (ACLs of the user's temp directory
            // already restrict it on Windows).
            file.toFile().setReadable(false, false);
            file.toFile().setReadable(true, true);
            file.toFile().setWritable(false, false);
            file.toFile().setWritable(true, true);
        }
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            in.transferTo(out);
        } catch (IOException e) {
            cleanUp(file);
            throw e;
        }
        return file;
    }

    private static void cleanUp(Path file) {
        Path dir = file.getParent();
        if (posix()) {
            // A loaded library stays mapped after its file is unlinked: nothing is left behind,
            // even if the JVM is killed.
            try {
                Files.deleteIfExists(file);
                Files.deleteIfExists(dir);
                return;
            } catch (IOException ignored) {
                // fall through to deletion at exit
            }
        }
        dir.toFile().deleteOnExit(); // registered first, so deleted after the file
        file.toFile().deleteOnExit();
    }
}
