package wbtoolkit.whitebox;

/** Encryption was asked of a key file whose tables only decrypt (external and standard mode): only space-hard key files encrypt (01000018). */
public class EncryptionUnsupportedException extends KeyFileException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public EncryptionUnsupportedException(String code, String message) {
        super(code, message);
    }
}
