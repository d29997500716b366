package wbtoolkit.whitebox;

import java.nio.charset.StandardCharsets;

/** Argument checks shared by the entry points, with the C ABI's codes. */
final class Args {
    private Args() {}

    /** @throws InvalidArgumentException 01000020 if {@code value} is null */
    static <T> T nonNull(T value, String name) throws InvalidArgumentException {
        if (value == null) {
            throw (InvalidArgumentException) WhiteboxException.forCode(
                    WhiteboxException.NULL_ARGUMENT, "a required argument is null: " + name);
        }
        return value;
    }

    /**
     * A string argument that must be non-null and encodable as UTF-8 (no unpaired surrogate).
     *
     * @throws InvalidArgumentException 01000020 for null, 01000021 for a string UTF-8 cannot hold
     */
    static String text(String value, String name) throws InvalidArgumentException {
        return optionalText(nonNull(value, name), name);
    }

    /** As {@link #text}, null allowed. */
    static String optionalText(String value, String name) throws InvalidArgumentException {
        if (value != null && !StandardCharsets.UTF_8.newEncoder().canEncode(value)) {
            throw (InvalidArgumentException) WhiteboxException.forCode(
                    WhiteboxException.INVALID_UTF8, "a string argument is not valid UTF-8: " + name);
        }
        return value;
    }

    /** @throws InvalidArgumentException 01000009 unless {@code iv} is 16 bytes */
    static byte[] iv(byte[] iv) throws InvalidArgumentException {
        nonNull(iv, "iv");
        if (iv.length != 16) {
            throw (InvalidArgumentException) WhiteboxException.forCode(
                    WhiteboxException.INVALID_IV, "the IV must be 16 bytes, got " + iv.length);
        }
        return iv;
    }
}
