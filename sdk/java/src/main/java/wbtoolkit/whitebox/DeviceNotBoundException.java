package wbtoolkit.whitebox;

/** The key file is bound to other devices: this device's fingerprint is not among them (01000016). */
public class DeviceNotBoundException extends WhiteboxException {
    private static final long serialVersionUID = 1L;

    /** @see WhiteboxException#WhiteboxException(String, String) */
    public DeviceNotBoundException(String code, String message) {
        super(code, message);
    }
}
