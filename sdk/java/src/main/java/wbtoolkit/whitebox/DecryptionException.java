package wbtoolkit.whitebox;

/** Decryption failed (01000011): the ciphertext is empty, not whole blocks, or its padding is wrong. Deliberately one opaque error: the runtime never says which, so that no caller becomes a padding oracle. */
public class DecryptionException extends WhiteboxException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public DecryptionException(String code, String message) {
        super(code, message);
    }
}
