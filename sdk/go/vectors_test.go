package whitebox_test

// The cross-language SDK vectors (test-vectors/sdk/vectors.json), read exactly as the Rust,
// C, Java and Python tests read them: every case decrypts to its plaintext through every
// surface (the one-shot calls, a key loaded from its file or from bytes, raw and Base64), the
// space-hard cases also encrypt to the same ciphertext with the same IV, and every error case
// gives its code and matches its sentinel.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"wbtoolkit/whitebox"
)

const vectorsDir = "../../test-vectors/sdk"

type vectorCase struct {
	Name        string  `json:"name"`
	KeyFile     string  `json:"key_file"`
	Algorithm   int     `json:"algorithm"`
	Mode        string  `json:"mode"`
	Bound       bool    `json:"bound"`
	Encrypts    bool    `json:"encrypts"`
	Fingerprint *string `json:"fingerprint"`
	IV          string  `json:"iv"`
	Ciphertext  string  `json:"ciphertext"`
	Plaintext   string  `json:"plaintext"`
}

type vectorError struct {
	Name        string  `json:"name"`
	KeyFile     string  `json:"key_file"`
	Algorithm   int     `json:"algorithm"`
	Fingerprint *string `json:"fingerprint"`
	Op          string  `json:"op"`
	IV          string  `json:"iv"`
	Ciphertext  string  `json:"ciphertext"`
	Plaintext   string  `json:"plaintext"`
	Error       string  `json:"error"`
}

type vectorDoc struct {
	Cases  []vectorCase  `json:"cases"`
	Errors []vectorError `json:"errors"`
}

var loadVectors = sync.OnceValues(func() (vectorDoc, error) {
	var doc vectorDoc
	text, err := os.ReadFile(filepath.Join(vectorsDir, "vectors.json"))
	if err == nil {
		err = json.Unmarshal(text, &doc)
	}
	return doc, err
})

func vectors(t testing.TB) vectorDoc {
	t.Helper()
	doc, err := loadVectors()
	if err != nil {
		t.Fatalf("reading %s/vectors.json: %v", vectorsDir, err)
	}
	if len(doc.Cases) < 18 || len(doc.Errors) < 40 {
		t.Fatalf("vectors.json has %d cases and %d error cases: too few", len(doc.Cases), len(doc.Errors))
	}
	return doc
}

func fp(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func b64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("vector Base64 %q: %v", s, err)
	}
	return b
}

// sentinelFor is the class every code of vectors.json must match.
func sentinelFor(code string) error {
	switch code {
	case "01000001", "01000002", "01000003", "01000004", "01000005", "01000006", "01000014":
		return whitebox.ErrKeyFile
	case "01000007", "01000008", "01000009", "01000010", "01000020", "01000021":
		return whitebox.ErrInvalidArgument
	case "01000011":
		return whitebox.ErrDecryption
	case "01000016":
		return whitebox.ErrDeviceNotBound
	case "01000017", "01000019":
		return whitebox.ErrBackend
	case "01000018":
		return whitebox.ErrEncryptionUnsupported
	}
	return nil
}

var allSentinels = []error{
	whitebox.ErrKeyFile, whitebox.ErrInvalidArgument, whitebox.ErrDecryption,
	whitebox.ErrDeviceNotBound, whitebox.ErrBackend, whitebox.ErrEncryptionUnsupported,
	whitebox.ErrInternal, whitebox.ErrClosed,
}

var codeShape = regexp.MustCompile(`^[0-9]{8}$`)

// checkCode asserts that err is an *Error with code want, formatted as the tools print it,
// and matching want's sentinel.
func checkCode(t *testing.T, err error, want string) {
	t.Helper()
	var e *whitebox.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want error %s", err, err, want)
	}
	if e.Code != want {
		t.Fatalf("got code %s (%v), want %s", e.Code, err, want)
	}
	if e.Message == "" || e.Error() != "error "+want+": "+e.Message {
		t.Fatalf("badly formatted error %q", e.Error())
	}
	if s := sentinelFor(want); s == nil || !errors.Is(err, s) {
		t.Fatalf("error %s does not match its sentinel %v", want, s)
	}
	if !errors.Is(err, &whitebox.Error{Code: want}) {
		t.Fatalf("error %s does not match an *Error of its code", want)
	}
}

// keys loads each key file of the vectors once, from its file, with the case's fingerprint.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*whitebox.Key
}

func (c *keyCache) get(t *testing.T, file, fingerprint string) *whitebox.Key {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	id := file + "\x00" + fingerprint
	if k, ok := c.keys[id]; ok {
		return k
	}
	k, err := whitebox.LoadKeyFileWithFingerprint(filepath.Join(vectorsDir, file), fingerprint)
	if err != nil {
		t.Fatalf("LoadKeyFileWithFingerprint(%s): %v", file, err)
	}
	if c.keys == nil {
		c.keys = map[string]*whitebox.Key{}
	}
	c.keys[id] = k
	return k
}

func (c *keyCache) close() {
	for _, k := range c.keys {
		_ = k.Close()
	}
}

func TestVectorsDecryptEverySurface(t *testing.T) {
	doc := vectors(t)
	var cache keyCache
	defer cache.close()
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			want := b64(t, c.Plaintext)
			check := func(surface string, got []byte, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", surface, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: wrong plaintext (%d bytes, want %d)", surface, len(got), len(want))
				}
				whitebox.Wipe(got)
			}
			got, err := whitebox.WhiteboxDecryptWithFingerprint(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, c.Algorithm, fp(c.Fingerprint))
			check("WhiteboxDecryptWithFingerprint", got, err)
			if !c.Bound {
				got, err = whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, c.Algorithm)
				check("WhiteboxDecrypt", got, err)
			}

			key := cache.get(t, c.KeyFile, fp(c.Fingerprint))
			if key.Algorithm() != c.Algorithm {
				t.Fatalf("Algorithm() = %d, want %d", key.Algorithm(), c.Algorithm)
			}
			iv, ct := b64(t, c.IV), b64(t, c.Ciphertext)
			got, err = key.Decrypt(iv, ct)
			check("LoadKeyFile + Decrypt", got, err)
			got, err = key.DecryptB64(c.IV, c.Ciphertext)
			check("LoadKeyFile + DecryptB64", got, err)

			data, err := os.ReadFile(filepath.Join(vectorsDir, c.KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			var fromBytes *whitebox.Key
			if c.Bound {
				fromBytes, err = whitebox.LoadKeyWithFingerprint(data, fp(c.Fingerprint))
			} else {
				fromBytes, err = whitebox.LoadKey(data)
			}
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			defer fromBytes.Close()
			clear(data) // the library copied the bytes
			got, err = fromBytes.Decrypt(iv, ct)
			check("LoadKey + Decrypt", got, err)

			if !c.Encrypts {
				return
			}
			again, err := key.Encrypt(iv, want)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if !bytes.Equal(again, ct) {
				t.Fatal("Encrypt: the same IV does not give the same ciphertext")
			}
			text, err := whitebox.WhiteboxEncryptWithFingerprint(vectorsDir, c.KeyFile, c.IV, want, c.Algorithm, fp(c.Fingerprint))
			if err != nil {
				t.Fatalf("WhiteboxEncryptWithFingerprint: %v", err)
			}
			if text != c.Ciphertext {
				t.Fatal("WhiteboxEncryptWithFingerprint: the same IV does not give the same ciphertext")
			}
			if !c.Bound {
				text, err = whitebox.WhiteboxEncrypt(vectorsDir, c.KeyFile, c.IV, want, c.Algorithm)
				if err != nil || text != c.Ciphertext {
					t.Fatalf("WhiteboxEncrypt: %v, or not the same ciphertext", err)
				}
			}
		})
	}
}

func TestVectorsEveryErrorGivesItsCode(t *testing.T) {
	doc := vectors(t)
	for _, e := range doc.Errors {
		t.Run(e.Name, func(t *testing.T) {
			// The one-shot calls: the code of the vectors, exactly.
			var err error
			if e.Op == "encrypt" {
				_, err = whitebox.WhiteboxEncryptWithFingerprint(vectorsDir, e.KeyFile, e.IV, b64(t, e.Plaintext), e.Algorithm, fp(e.Fingerprint))
			} else {
				_, err = whitebox.WhiteboxDecryptWithFingerprint(vectorsDir, e.KeyFile, e.IV, e.Ciphertext, e.Algorithm, fp(e.Fingerprint))
			}
			checkCode(t, err, e.Error)
			for _, s := range allSentinels {
				if s != sentinelFor(e.Error) && errors.Is(err, s) && !alsoMatches(e.Error, s) {
					t.Fatalf("error %s also matches %v", e.Error, s)
				}
			}

			// The handle: loading the key file gives the code, or the call on the loaded key
			// does. A handle has no algorithm argument: for those cases the key says which
			// algorithm it holds.
			key, err := whitebox.LoadKeyFileWithFingerprint(filepath.Join(vectorsDir, e.KeyFile), fp(e.Fingerprint))
			if err != nil {
				checkCode(t, err, e.Error)
				return
			}
			defer key.Close()
			switch {
			case e.Error == "01000007" || e.Error == "01000008":
				if key.Algorithm() == e.Algorithm {
					t.Fatalf("the key holds algorithm %d, which the case says it does not", e.Algorithm)
				}
			case e.Op == "encrypt":
				_, err = key.Encrypt(b64(t, e.IV), b64(t, e.Plaintext))
				checkCode(t, err, e.Error)
			default:
				_, err = key.DecryptB64(e.IV, e.Ciphertext)
				checkCode(t, err, e.Error)
				// Raw bytes: only when the case's Base64 is valid (else Base64 is the point).
				iv, errIV := base64.StdEncoding.DecodeString(e.IV)
				ct, errCT := base64.StdEncoding.DecodeString(e.Ciphertext)
				if errIV == nil && errCT == nil {
					_, err = key.Decrypt(iv, ct)
					checkCode(t, err, e.Error)
				}
			}
		})
	}
}

// alsoMatches lists the parent classes a code matches besides its own (as in the Python
// package: encryption unsupported is a key-file error, backend errors are invalid arguments).
func alsoMatches(code string, s error) bool {
	switch code {
	case "01000018":
		return s == whitebox.ErrKeyFile
	case "01000017", "01000019":
		return s == whitebox.ErrInvalidArgument
	}
	return false
}

func TestEncryptDecryptRoundTripEveryLength(t *testing.T) {
	doc := vectors(t)
	for _, c := range doc.Cases {
		if !c.Encrypts || c.Bound {
			continue
		}
		t.Run(c.KeyFile, func(t *testing.T) {
			key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			defer key.Close()
			iv := b64(t, c.IV)
			for n := range 70 {
				pt := bytes.Repeat([]byte{byte(n)}, n)
				ct, err := key.Encrypt(iv, pt)
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				if len(ct) != (n/16+1)*16 {
					t.Fatalf("%d bytes: ciphertext of %d bytes", n, len(ct))
				}
				back, err := key.Decrypt(iv, ct)
				if err != nil || !bytes.Equal(back, pt) || back == nil {
					t.Fatalf("%d bytes: %v, or not the plaintext back", n, err)
				}
				text, err := whitebox.WhiteboxEncrypt(vectorsDir, c.KeyFile, c.IV, pt, c.Algorithm)
				if err != nil || text != base64.StdEncoding.EncodeToString(ct) {
					t.Fatalf("%d bytes: WhiteboxEncrypt: %v, or another ciphertext", n, err)
				}
			}
		})
	}
}
