package whitebox_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"wbtoolkit/whitebox"
)

// fuzzKeys are loaded once per fuzzing process: a decrypt-only key and a space-hard one.
var fuzzKeys = sync.OnceValues(func() ([2]*whitebox.Key, error) {
	var keys [2]*whitebox.Key
	for i, file := range []string{"sm4-external.wbkey", "aes-256-space-hard.wbkey"} {
		k, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, file))
		if err != nil {
			return keys, err
		}
		keys[i] = k
	}
	return keys, nil
})

// FuzzDecrypt: arbitrary IV and ciphertext bytes never crash the library; every failure is
// an *Error with an eight-digit code of the argument or decryption class; a success has a
// 16-byte IV, whole blocks and a shorter plaintext; and on the space-hard key, a plaintext
// that decrypts re-encrypts to the same ciphertext, and the fuzzed bytes taken as a
// plaintext round-trip. The same bytes as Base64 text (often not Base64, not UTF-8, or
// holding NUL bytes) go through DecryptB64 under the same rules.
func FuzzDecrypt(f *testing.F) {
	for _, c := range vectors(f).Cases {
		if c.KeyFile == "sm4-external.wbkey" || c.KeyFile == "aes-256-space-hard.wbkey" {
			f.Add(b64(f, c.IV), b64(f, c.Ciphertext))
		}
	}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, 16), make([]byte, 16))
	f.Add(make([]byte, 15), make([]byte, 32))
	f.Add(make([]byte, 17), make([]byte, 31))
	f.Add(bytes.Repeat([]byte{0xff}, 16), bytes.Repeat([]byte{0x10}, 48))
	keys, err := fuzzKeys()
	if err != nil {
		f.Fatal(err)
	}
	coded := func(t *testing.T, err error) *whitebox.Error {
		t.Helper()
		var e *whitebox.Error
		if !errors.As(err, &e) || !codeShape.MatchString(e.Code) || e.Message == "" {
			t.Fatalf("an error without a code: %v (%T)", err, err)
		}
		if !errors.Is(err, whitebox.ErrInvalidArgument) && !errors.Is(err, whitebox.ErrDecryption) {
			t.Fatalf("unexpected class: %v", err)
		}
		return e
	}
	f.Fuzz(func(t *testing.T, iv, ct []byte) {
		if plain, err := keys[0].DecryptB64(string(iv), string(ct)); err != nil {
			coded(t, err)
		} else {
			whitebox.Wipe(plain)
		}
		for i, key := range keys {
			plain, err := key.Decrypt(iv, ct)
			if err != nil {
				e := coded(t, err)
				if (len(iv) == 16) == (e.Code == "01000009") {
					t.Fatalf("IV of %d bytes gave %v", len(iv), err)
				}
				continue
			}
			if len(iv) != 16 || len(ct) == 0 || len(ct)%16 != 0 || len(plain) >= len(ct) || plain == nil {
				t.Fatalf("decrypted %d bytes to %d with an IV of %d", len(ct), len(plain), len(iv))
			}
			if i == 1 {
				again, err := key.Encrypt(iv, plain)
				if err != nil || !bytes.Equal(again, ct) {
					t.Fatalf("re-encryption: %v, or another ciphertext", err)
				}
			}
			whitebox.Wipe(plain)
		}
		if len(iv) != 16 {
			return
		}
		ct2, err := keys[1].Encrypt(iv, ct)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		back, err := keys[1].Decrypt(iv, ct2)
		if err != nil || !bytes.Equal(back, ct) {
			t.Fatalf("round trip: %v, or other bytes back", err)
		}
	})
}
