package wbtoolkit.whitebox;

/** The key file cannot be used: unreadable (01000001), not a key file (01000002), an unknown version (01000003), truncated (01000004), malformed (01000005), corrupted or edited (01000006), or bound and this device's fingerprint could not be collected (01000014). */
public class KeyFileException extends WhiteboxException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public KeyFileException(String code, String message) {
        super(code, message);
    }
}
