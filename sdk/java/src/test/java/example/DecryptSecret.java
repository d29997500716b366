package example;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import wbtoolkit.whitebox.Algorithm;
import wbtoolkit.whitebox.Mode;
import wbtoolkit.whitebox.Whitebox;
import wbtoolkit.whitebox.WhiteboxCipher;
import wbtoolkit.whitebox.WhiteboxException;
import wbtoolkit.whitebox.WhiteboxKey;

/** usage: java example.DecryptSecret KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM */
public final class DecryptSecret {
    public static void main(String[] args) {
        if (args.length != 5) {
            System.err.println("usage: DecryptSecret KEY_DIR KEY_FILE IV_B64 CIPHERTEXT_B64 ALGORITHM");
            System.exit(2);
        }
        try {
            byte[] secret = decrypt(args[0], args[1], args[2], args[3], Integer.parseInt(args[4]));
            System.out.println(new String(secret, StandardCharsets.UTF_8));
            Arrays.fill(secret, (byte) 0); // wipe the secret once used
        } catch (WhiteboxException e) {
            System.err.println("error " + e.getMessage()); // e.g. "error 01000016: ..."
            System.exit(1);
        }
    }

    /** The same secret three ways; algorithm 0 = AES-256, 1 = SM4. */
    public static byte[] decrypt(String keyDir, String keyFile, String ivB64, String ciphertextB64,
            int algorithm) throws WhiteboxException {
        // 1. One call, as in the KMS SDKs.
        byte[] secret = Whitebox.whiteboxDecrypt(keyDir, keyFile, ivB64, ciphertextB64, algorithm);

        // 2. Load the key file once, decrypt many times from any number of threads.
        try (WhiteboxKey key = WhiteboxKey.load(Path.of(keyDir, keyFile))) {
            byte[] again = key.decryptB64(ivB64, ciphertextB64);
            if (!Arrays.equals(secret, again)) throw new AssertionError();
        }

        // 3. A cipher object: getInstance, init, update, doFinal.
        WhiteboxCipher cipher = WhiteboxCipher.getInstance(Algorithm.fromNumber(algorithm));
        try (cipher) {
            cipher.init(Path.of(keyDir, keyFile).toFile(), Base64.getDecoder().decode(ivB64), Mode.DECRYPT);
            cipher.update(Base64.getDecoder().decode(ciphertextB64));
            byte[] third = cipher.doFinal();
            if (!Arrays.equals(secret, third)) throw new AssertionError();
        }
        return secret;
    }
}
