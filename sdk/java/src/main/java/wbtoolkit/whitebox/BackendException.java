package wbtoolkit.whitebox;

/** The backend asked for cannot run: unavailable on this CPU or build (01000017), or {@code WBRUNTIME_BACKEND} names no backend (01000019). */
public class BackendException extends InvalidArgumentException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public BackendException(String code, String message) {
        super(code, message);
    }
}
