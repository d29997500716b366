package wbtoolkit.whitebox;

/** An argument is wrong: an unknown algorithm (01000007), a key file of the other algorithm (01000008), an IV that is not 16 bytes (01000009), invalid Base64 (01000010), a null argument (01000020), a string that is not valid UTF-16/UTF-8 (01000021). */
public class InvalidArgumentException extends WhiteboxException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public InvalidArgumentException(String code, String message) {
        super(code, message);
    }
}
