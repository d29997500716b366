package whitebox_test

import (
	"errors"
	"fmt"
	"log"

	"wbtoolkit/whitebox"
)

// The README's examples are the bodies of these functions, exactly (readme_test.go checks);
// `go test` runs them against the shared vectors in test-vectors/sdk and compares the output.

func ExampleWhiteboxDecrypt() {
	secret, err := whitebox.WhiteboxDecrypt("../../test-vectors/sdk", "sm4-standard.wbkey",
		"z5+GenTVPKTinJFhpNmA3w==",
		"E6kz63+KvFIvZ08PGtthgjcEI1Ojz/qibj6rGhqtBcZg6o4ZEghdvWF9ZgHuE2OE",
		whitebox.SM4)
	if err != nil {
		log.Fatal(err) // e.g. "error 01000011: decryption failed (…)"
	}
	defer whitebox.Wipe(secret) // wipe the secret once used
	fmt.Println(string(secret))
	// Output: sk-live-4f3c2a19e8d7b6a5 (an API secret, 40 B)
}

func ExampleKey_Decrypt() {
	// Load and validate the key file once; the Key is safe for concurrent use.
	key, err := whitebox.LoadKeyFile("../../test-vectors/sdk/aes-256-external.wbkey")
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()

	secret, err := key.DecryptB64("IHslu1tpXlnKc4S7KdUbIg==",
		"yUf8481KT0hJFPpgux0Aq+x4R8WWzzrT0ZVtSO/LIViNQSyfCwacXlxA/2YnEPnt")
	switch {
	case errors.Is(err, whitebox.ErrDecryption):
		log.Fatal("wrong key or corrupted ciphertext: ", err)
	case err != nil:
		log.Fatal(err)
	}
	defer whitebox.Wipe(secret)
	fmt.Println(string(secret))
	// Output: sk-live-4f3c2a19e8d7b6a5 (an API secret, 40 B)
}

func ExampleKey_Encrypt() {
	// Only space-hard key files encrypt. Draw a fresh random IV for every message
	// (crypto/rand); this one is fixed so that the output is too.
	key, err := whitebox.LoadKeyFile("../../test-vectors/sdk/sm4-space-hard.wbkey")
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	iv := []byte("0123456789abcdef")
	ct, err := key.Encrypt(iv, []byte("token"))
	if err != nil {
		log.Fatal(err)
	}
	back, err := key.Decrypt(iv, ct)
	if err != nil {
		log.Fatal(err)
	}
	defer whitebox.Wipe(back)
	fmt.Println(len(ct), string(back))
	// Output: 16 token
}

func ExampleLoadKeyFileWithFingerprint() {
	// A bound key file loads only with a bound device's fingerprint (by default, the one
	// this device's collected).
	_, err := whitebox.LoadKeyFileWithFingerprint("../../test-vectors/sdk/sm4-external-bound.wbkey",
		"wbfp1-sdk-test-device-9999")
	var e *whitebox.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, errors.Is(err, whitebox.ErrDeviceNotBound))
	}
	// Output: 01000016 true
}
