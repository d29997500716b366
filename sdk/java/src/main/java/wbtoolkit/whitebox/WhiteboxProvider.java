package wbtoolkit.whitebox;

import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.util.List;
import java.util.Map;

/**
 * The JCA provider: {@code Cipher.getInstance("WBAES256/CBC/PKCS5Padding", new
 * WhiteboxProvider())} (or {@code "WBSM4/CBC/PKCS5Padding"}), initialised with a {@link
 * WhiteboxKeyFile} and an {@code IvParameterSpec}. {@code PKCS7Padding} is accepted as a
 * name for the same padding. Register it with {@code Security.addProvider} to name it as
 * {@value #NAME} instead.
 */
public final class WhiteboxProvider extends Provider {
    private static final long serialVersionUID = 1L;

    /** The provider's name. */
    public static final String NAME = "WhiteboxToolkit";

    /** A provider instance. */
    public WhiteboxProvider() {
        super(NAME, "0.2.0", "White-box AES-256 and SM4 (CBC, PKCS#7) with key files (wbruntime)");
        for (Algorithm a : Algorithm.values()) {
            String name = a.jcaName();
            putService(new CipherService(this, a, name + "/CBC/PKCS5Padding",
                    List.of(name + "/CBC/PKCS7Padding", name)));
        }
    }

    /** Makes the cipher without reflection (so it works from any module or shaded jar). */
    private static final class CipherService extends Provider.Service {
        private final Algorithm algorithm;

        CipherService(Provider p, Algorithm algorithm, String transformation, List<String> aliases) {
            super(p, "Cipher", transformation, WhiteboxCipherSpi.class.getName(), aliases,
                    Map.of("SupportedModes", "CBC",
                            "SupportedPaddings", "PKCS5PADDING|PKCS7PADDING",
                            "SupportedKeyClasses", WhiteboxKeyFile.class.getName(),
                            "SupportedKeyFormats", WhiteboxKeyFile.FORMAT));
            this.algorithm = algorithm;
        }

        @Override
        public Object newInstance(Object constructorParameter) throws NoSuchAlgorithmException {
            if (constructorParameter != null) {
                throw new java.security.InvalidParameterException("no constructor parameter");
            }
            return new WhiteboxCipherSpi(algorithm);
        }

        @Override
        public boolean supportsParameter(Object parameter) {
            return parameter instanceof WhiteboxKeyFile
                    && ((WhiteboxKeyFile) parameter).algorithm() == algorithm;
        }
    }
}
