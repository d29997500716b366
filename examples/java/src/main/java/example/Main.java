package example;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import wbtoolkit.whitebox.DecryptionException;
import wbtoolkit.whitebox.DeviceNotBoundException;
import wbtoolkit.whitebox.Whitebox;
import wbtoolkit.whitebox.WhiteboxException;

/**
 * Decrypts one secret with a white-box key file and prints it: the Java SDK's
 * whiteboxDecrypt, as a complete program.
 *
 * <pre>
 * java -jar target/decrypt-secret.jar --key-dir DIR --key-file FILE --iv IV_B64 \
 *     --ciphertext CIPHERTEXT_B64 --algorithm 0|1
 * </pre>
 *
 * Algorithm 0 is AES-256, 1 is SM4. Exit status: 0 with the secret on standard output; 1 on a
 * runtime error ({@code error CODE: message} on standard error); 2 on a usage error.
 */
public final class Main {
    static final String USAGE = "usage: decrypt-secret --key-dir DIR --key-file FILE --iv IV_B64"
            + " --ciphertext CIPHERTEXT_B64 --algorithm 0|1 (0 = AES-256, 1 = SM4)";
    private static final List<String> OPTIONS =
            List.of("--key-dir", "--key-file", "--iv", "--ciphertext", "--algorithm");

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Map<String, String> options = parse(args);
        if (options == null) {
            System.err.println(USAGE);
            return 2;
        }
        int algorithm = options.get("--algorithm").equals("1") ? 1 : 0;
        byte[] secret;
        try {
            secret = Whitebox.whiteboxDecrypt(options.get("--key-dir"), options.get("--key-file"),
                    options.get("--iv"), options.get("--ciphertext"), algorithm);
        } catch (DeviceNotBoundException e) {
            System.err.println("error " + e.getMessage()); // "error 01000016: ..."
            System.err.println("this key file is bound to other devices: export one that"
                    + " includes this device's fingerprint (wbfingerprint)");
            return 1;
        } catch (DecryptionException e) {
            System.err.println("error " + e.getMessage()); // "error 01000011: ..."
            System.err.println("check the IV, the ciphertext and that the key file is the one it"
                    + " was encrypted for");
            return 1;
        } catch (WhiteboxException e) {
            // Every runtime error: getCode() is the eight-digit code, getMessage() "CODE: " and
            // the runtime's message (for a key file: why, and its path).
            System.err.println("error " + e.getMessage());
            return 1;
        }
        try {
            System.out.write(secret);
            System.out.write('\n');
            System.out.flush();
        } catch (IOException e) {
            System.err.println("cannot write the secret: " + e.getMessage());
            return 1;
        } finally {
            Arrays.fill(secret, (byte) 0); // wipe the secret once used
        }
        return 0;
    }

    /** The five options ({@code --name VALUE} or {@code --name=VALUE}), or null if any is
     * missing, repeated, unknown or empty, or the algorithm is not 0 or 1. */
    static Map<String, String> parse(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            String value;
            int eq = name.indexOf('=');
            if (eq > 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                return null;
            }
            if (!OPTIONS.contains(name) || value.isEmpty() || options.put(name, value) != null) {
                return null;
            }
        }
        if (options.size() != OPTIONS.size()) {
            return null;
        }
        String algorithm = options.get("--algorithm");
        return algorithm.equals("0") || algorithm.equals("1") ? options : null;
    }
}
