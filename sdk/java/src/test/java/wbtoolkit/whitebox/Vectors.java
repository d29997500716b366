package wbtoolkit.whitebox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** The cross-language SDK vectors, test-vectors/sdk/vectors.json, as every SDK reads them. */
final class Vectors {
    private Vectors() {}

    /** A case that decrypts to its plaintext (and, if {@code encrypts}, encrypts back). */
    record Case(String name, int algorithm, String keyFile, String iv, String ciphertext,
            byte[] plaintext, boolean encrypts, String fingerprint, String mode) {
        Path path() {
            return dir().resolve(keyFile);
        }

        Algorithm alg() {
            return algorithm == 1 ? Algorithm.SM4 : Algorithm.AES_256;
        }

        byte[] ivBytes() {
            return Base64.getDecoder().decode(iv);
        }

        byte[] ciphertextBytes() {
            return Base64.getDecoder().decode(ciphertext);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** A case that fails with {@code error}; {@code op} "encrypt" or "decrypt". */
    record ErrorCase(String name, int algorithm, String keyFile, String iv, String ciphertext,
            String plaintext, String fingerprint, String op, String error) {
        @Override
        public String toString() {
            return name + " -> " + error;
        }
    }

    static Path dir() {
        return Path.of(System.getProperty("wbruntime.vectors", "../../test-vectors/sdk"));
    }

    private static JsonNode doc() {
        try {
            return new ObjectMapper().readTree(dir().resolve("vectors.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        for (JsonNode c : doc().get("cases")) {
            out.add(new Case(text(c, "name"), c.get("algorithm").asInt(), text(c, "key_file"),
                    text(c, "iv"), text(c, "ciphertext"),
                    Base64.getDecoder().decode(text(c, "plaintext")), c.get("encrypts").asBoolean(),
                    text(c, "fingerprint"), text(c, "mode")));
        }
        return out;
    }

    static List<ErrorCase> errors() {
        List<ErrorCase> out = new ArrayList<>();
        for (JsonNode e : doc().get("errors")) {
            String op = text(e, "op");
            out.add(new ErrorCase(text(e, "name"), e.get("algorithm").asInt(), text(e, "key_file"),
                    text(e, "iv"), text(e, "ciphertext"), text(e, "plaintext"),
                    text(e, "fingerprint"), op == null ? "decrypt" : op, text(e, "error")));
        }
        return out;
    }

    /**
     * The class each code must be thrown as: this test's own table, written from README.md,
     * not taken from {@link WhiteboxException#forCode}.
     */
    static Class<? extends WhiteboxException> expectedClass(String code) {
        switch (code) {
            case "01000001": case "01000002": case "01000003": case "01000004":
            case "01000005": case "01000006": case "01000014":
                return KeyFileException.class;
            case "01000018":
                return EncryptionUnsupportedException.class;
            case "01000007": case "01000008": case "01000009": case "01000010":
            case "01000020": case "01000021":
                return InvalidArgumentException.class;
            case "01000017": case "01000019":
                return BackendException.class;
            case "01000011":
                return DecryptionException.class;
            case "01000016":
                return DeviceNotBoundException.class;
            default:
                return WhiteboxException.class;
        }
    }
}
