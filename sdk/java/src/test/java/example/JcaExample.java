package example;

import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import wbtoolkit.whitebox.Algorithm;
import wbtoolkit.whitebox.WhiteboxKeyFile;
import wbtoolkit.whitebox.WhiteboxProvider;

public final class JcaExample {
    /** AES-256-CBC with PKCS#7 through the JCA, the key file as the key. */
    public static byte[] decrypt(Path keyFile, byte[] iv, byte[] ciphertext)
            throws GeneralSecurityException, IOException {
        Cipher cipher = Cipher.getInstance("WBAES256/CBC/PKCS5Padding", new WhiteboxProvider());
        cipher.init(Cipher.DECRYPT_MODE, WhiteboxKeyFile.fromFile(keyFile, Algorithm.AES_256),
                new IvParameterSpec(iv));
        return cipher.doFinal(ciphertext);
    }
}
