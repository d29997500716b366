package wbtoolkit.whitebox;

/**
 * A failure of the white-box runtime, carrying its stable eight-digit code (README.md, "Error
 * codes"). The subclass says the kind: {@link KeyFileException}, {@link
 * InvalidArgumentException}, {@link DecryptionException}, {@link DeviceNotBoundException},
 * {@link BackendException}, {@link EncryptionUnsupportedException}. Messages never contain
 * key, table or plaintext bytes.
 */
public class WhiteboxException extends Exception {
    private static final long serialVersionUID = 1L;

    static final String UNSUPPORTED_ALGORITHM = "01000007";
    static final String INVALID_IV = "01000009";
    static final String ENCRYPTION_UNSUPPORTED = "01000018";
    static final String NULL_ARGUMENT = "01000020";
    static final String INVALID_UTF8 = "01000021";

    private final String code;

    /**
     * @param code the eight-digit code, e.g. {@code "01000016"}
     * @param message what went wrong, without the code
     */
    public WhiteboxException(String code, String message) {
        super(code + ": " + message);
        this.code = code;
    }

    /** The stable eight-digit code, e.g. {@code "01000016"}. */
    public String getCode() {
        return code;
    }

    /** The code as the C ABI returns it: {@code "01000016"} is {@code 1000016}. */
    public int getNumericCode() {
        try {
            return Integer.parseInt(code);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * The exception of the right subclass for a code: the one table from codes to classes
     * (the native library throws through it too).
     */
    public static WhiteboxException forCode(String code, String message) {
        switch (code) {
            case "01000001": // the key file could not be read
            case "01000002": // bad magic
            case "01000003": // unsupported version
            case "01000004": // truncated
            case "01000005": // malformed
            case "01000006": // integrity check failed
            case "01000014": // fingerprint unavailable
                return new KeyFileException(code, message);
            case "01000018":
                return new EncryptionUnsupportedException(code, message);
            case "01000007": // unsupported algorithm
            case "01000008": // algorithm mismatch
            case "01000009": // IV not 16 bytes
            case "01000010": // not Base64
            case "01000020": // null argument
            case "01000021": // not UTF-8
                return new InvalidArgumentException(code, message);
            case "01000017": // backend unavailable
            case "01000019": // WBRUNTIME_BACKEND names no backend
                return new BackendException(code, message);
            case "01000011":
                return new DecryptionException(code, message);
            case "01000016":
                return new DeviceNotBoundException(code, message);
            default: // 01000012 (never from this SDK), 01000022 internal, anything newer
                return new WhiteboxException(code, message);
        }
    }

    /** Called by the native library (wbruntime-jni) to build the exception it throws. */
    static WhiteboxException fromNative(String code, String message) {
        return forCode(code, message);
    }
}
