package wbtoolkit.whitebox;

/**
 * Run in a fresh JVM by the tests that need one (library overrides, WBRUNTIME_BACKEND):
 * prints where the library came from, then decrypts the arguments (KEY_DIR KEY_FILE IV CT
 * ALGORITHM) if given, printing "ok" or "code CODE CLASS".
 */
public final class ChildProbe {
    private ChildProbe() {}

    public static void main(String[] args) {
        System.out.println("source " + Whitebox.nativeSource());
        if (args.length == 5) {
            try {
                Whitebox.whiteboxDecrypt(args[0], args[1], args[2], args[3], Integer.parseInt(args[4]));
                System.out.println("ok");
            } catch (WhiteboxException e) {
                System.out.println("code " + e.getCode() + " " + e.getClass().getSimpleName());
            }
        }
    }
}
