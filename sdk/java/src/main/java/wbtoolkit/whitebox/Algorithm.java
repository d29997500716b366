package wbtoolkit.whitebox;

/** The cipher a key file holds, with the runtime's algorithm number (0 = AES-256, 1 = SM4). */
public enum Algorithm {
    /** AES with a 256-bit key (FIPS-197); JCA name {@code WBAES256}. */
    AES_256(0, "WBAES256"),
    /** SM4 (GB/T 32907-2016); JCA name {@code WBSM4}. */
    SM4(1, "WBSM4");

    private final int number;
    private final String jcaName;

    Algorithm(int number, String jcaName) {
        this.number = number;
        this.jcaName = jcaName;
    }

    /** The runtime's algorithm number, as {@link Whitebox#whiteboxDecrypt} takes it. */
    public int number() {
        return number;
    }

    /** The JCA algorithm name: {@code WBAES256} or {@code WBSM4}. */
    public String jcaName() {
        return jcaName;
    }

    /**
     * The algorithm with this number.
     *
     * @throws InvalidArgumentException code 01000007 for any other number
     */
    public static Algorithm fromNumber(int number) throws InvalidArgumentException {
        for (Algorithm a : values()) {
            if (a.number == number) {
                return a;
            }
        }
        throw (InvalidArgumentException) WhiteboxException.forCode(
                WhiteboxException.UNSUPPORTED_ALGORITHM,
                "unsupported algorithm " + number + " (0 = AES-256, 1 = SM4)");
    }
}
