package whitebox_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"wbtoolkit/whitebox"
)

// caseNamed is the vector case of that name.
func caseNamed(t testing.TB, name string) vectorCase {
	t.Helper()
	for _, c := range vectors(t).Cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no vector case %q", name)
	return vectorCase{}
}

// TestErrorClasses pins, for every code the runtime has, the sentinels it matches and those
// it does not.
func TestErrorClasses(t *testing.T) {
	tests := []struct {
		code string
		is   []error
	}{
		{"01000001", []error{whitebox.ErrKeyFile}},
		{"01000002", []error{whitebox.ErrKeyFile}},
		{"01000003", []error{whitebox.ErrKeyFile}},
		{"01000004", []error{whitebox.ErrKeyFile}},
		{"01000005", []error{whitebox.ErrKeyFile}},
		{"01000006", []error{whitebox.ErrKeyFile}},
		{"01000014", []error{whitebox.ErrKeyFile}},
		{"01000007", []error{whitebox.ErrInvalidArgument}},
		{"01000008", []error{whitebox.ErrInvalidArgument}},
		{"01000009", []error{whitebox.ErrInvalidArgument}},
		{"01000010", []error{whitebox.ErrInvalidArgument}},
		{"01000020", []error{whitebox.ErrInvalidArgument}},
		{"01000021", []error{whitebox.ErrInvalidArgument}},
		{"01000011", []error{whitebox.ErrDecryption}},
		{"01000016", []error{whitebox.ErrDeviceNotBound}},
		{"01000017", []error{whitebox.ErrBackend, whitebox.ErrInvalidArgument}},
		{"01000019", []error{whitebox.ErrBackend, whitebox.ErrInvalidArgument}},
		{"01000018", []error{whitebox.ErrEncryptionUnsupported, whitebox.ErrKeyFile}},
		{"01000022", []error{whitebox.ErrInternal}},
		{"01000012", nil},
		{"01000023", nil},
		{"09999999", nil}, // unknown codes keep their code and match no class
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := error(&whitebox.Error{Code: tt.code, Message: "m"})
			for _, s := range allSentinels {
				want := false
				for _, is := range tt.is {
					want = want || is == s
				}
				if got := errors.Is(err, s); got != want {
					t.Errorf("errors.Is(%s, %v) = %v, want %v", tt.code, s, got, want)
				}
			}
			if !errors.Is(err, &whitebox.Error{Code: tt.code}) || errors.Is(err, &whitebox.Error{Code: "0"}) {
				t.Error("an *Error target matches by code only")
			}
			if err.Error() != "error "+tt.code+": m" {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

// TestGoSideArgumentChecks: arguments Go can hold but C cannot take are refused with a code,
// never passed on cut short or wrapped around.
func TestGoSideArgumentChecks(t *testing.T) {
	c := caseNamed(t, "sm4-standard.wbkey: secret")
	key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"algorithm -1", func() error {
			_, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, -1)
			return err
		}, "01000007"},
		{"algorithm beyond uint32 (would wrap to SM4)", func() error {
			if math.MaxInt == math.MaxInt32 {
				return &whitebox.Error{Code: "01000007", Message: "(32-bit int: nothing to check)"}
			}
			big := int(uint64(1)<<32 | 1)
			_, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, big)
			return err
		}, "01000007"},
		{"encrypt algorithm -1", func() error {
			_, err := whitebox.WhiteboxEncrypt(vectorsDir, "sm4-space-hard.wbkey", c.IV, []byte("x"), -1)
			return err
		}, "01000007"},
		{"NUL in the key directory", func() error {
			_, err := whitebox.WhiteboxDecrypt(vectorsDir+"\x00/elsewhere", c.KeyFile, c.IV, c.Ciphertext, c.Algorithm)
			return err
		}, "01000001"},
		{"NUL in the key file name", func() error {
			_, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile+"\x00.bak", c.IV, c.Ciphertext, c.Algorithm)
			return err
		}, "01000001"},
		{"NUL in the path to load", func() error {
			_, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile) + "\x00x")
			return err
		}, "01000001"},
		{"NUL in the Base64 ciphertext", func() error {
			_, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext+"\x00AAAA", c.Algorithm)
			return err
		}, "01000010"},
		{"NUL in the Base64 IV (handle)", func() error {
			_, err := key.DecryptB64(c.IV+"\x00", c.Ciphertext)
			return err
		}, "01000010"},
		{"NUL in the Base64 IV (encrypt)", func() error {
			_, err := whitebox.WhiteboxEncrypt(vectorsDir, "sm4-space-hard.wbkey", c.IV+"\x00", []byte("x"), 1)
			return err
		}, "01000010"},
		{"NUL in the fingerprint", func() error {
			_, err := whitebox.LoadKeyFileWithFingerprint(filepath.Join(vectorsDir, c.KeyFile), "wbfp1-\x00")
			return err
		}, "01000021"},
		{"string not UTF-8", func() error {
			_, err := key.DecryptB64("\xff\xfe", c.Ciphertext)
			return err
		}, "01000021"},
		{"empty key bytes", func() error {
			_, err := whitebox.LoadKey(nil)
			return err
		}, "01000004"},
		{"IV of 17 bytes", func() error {
			_, err := key.Decrypt(make([]byte, 17), make([]byte, 32))
			return err
		}, "01000009"},
		{"no IV", func() error {
			_, err := key.Decrypt(nil, make([]byte, 32))
			return err
		}, "01000009"},
		{"no ciphertext", func() error {
			_, err := key.Decrypt(make([]byte, 16), nil)
			return err
		}, "01000011"},
		{"encrypt with a decrypt-only key", func() error {
			_, err := key.Encrypt(make([]byte, 16), []byte("x"))
			return err
		}, "01000018"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkCode(t, tt.call(), tt.code)
		})
	}
}

// TestErrorsHoldNoSecrets: no error text contains the plaintext, or any of the arguments.
func TestErrorsHoldNoSecrets(t *testing.T) {
	c := caseNamed(t, "sm4-space-hard.wbkey: secret")
	secret := b64(t, c.Plaintext)
	_, err := whitebox.WhiteboxEncrypt(vectorsDir, "sm4-standard.wbkey", c.IV, secret, 1)
	checkCode(t, err, "01000018")
	_, err2 := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext[:40], 1)
	checkCode(t, err2, "01000011")
	for _, e := range []error{err, err2} {
		for _, s := range []string{string(secret[:8]), c.IV, c.Ciphertext[:16], c.KeyFile} {
			if strings.Contains(e.Error(), s) {
				t.Fatalf("%q holds %q", e.Error(), s)
			}
		}
	}
}

func TestClose(t *testing.T) {
	c := caseNamed(t, "sm4-space-hard.wbkey: secret")
	key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if key.Backend() == "none" || key.Algorithm() != whitebox.SM4 {
		t.Fatalf("live key: backend %q, algorithm %d", key.Backend(), key.Algorithm())
	}
	if err := key.Close(); err != nil {
		t.Fatal(err)
	}
	if err := key.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	iv, ct := b64(t, c.IV), b64(t, c.Ciphertext)
	calls := map[string]func() error{
		"Decrypt":    func() error { _, err := key.Decrypt(iv, ct); return err },
		"DecryptB64": func() error { _, err := key.DecryptB64(c.IV, c.Ciphertext); return err },
		"Encrypt":    func() error { _, err := key.Encrypt(iv, []byte("x")); return err },
	}
	for name, call := range calls {
		if err := call(); err != whitebox.ErrClosed || !errors.Is(err, whitebox.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if key.Backend() != "none" || key.Algorithm() != -1 {
		t.Errorf("closed key: backend %q, algorithm %d", key.Backend(), key.Algorithm())
	}
	var nilKey *whitebox.Key
	if _, err := nilKey.Decrypt(iv, ct); err != whitebox.ErrClosed {
		t.Errorf("nil key: %v", err)
	}
	if nilKey.Close() != nil || nilKey.Backend() != "none" {
		t.Error("nil key: Close or Backend")
	}
}

func TestBackendAndVersion(t *testing.T) {
	key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, "aes-256-standard.wbkey"))
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	switch b := key.Backend(); b {
	case "soft", "portable", "neon", "avx2", "avx512vbmi":
	default:
		t.Fatalf("Backend() = %q", b)
	}
	if v := whitebox.Version(); v == "" || strings.ContainsAny(v, " \n") {
		t.Fatalf("Version() = %q", v)
	}
}

func TestWipe(t *testing.T) {
	b := []byte("a secret of 22 bytes..")
	whitebox.Wipe(b[:10])
	if !bytes.Equal(b[:10], make([]byte, 10)) || string(b[10:]) != "f 22 bytes.." {
		t.Fatalf("Wipe(b[:10]) left %q", b)
	}
	whitebox.Wipe(b)
	if !bytes.Equal(b, make([]byte, len(b))) {
		t.Fatal("not wiped")
	}
	whitebox.Wipe(nil)
	whitebox.Wipe([]byte{})
}

// TestConcurrentDecrypt: many goroutines share one key, long messages (which re-lay the
// tables out for the SIMD backend on first use, once per handle) and short ones mixed.
func TestConcurrentDecrypt(t *testing.T) {
	for _, file := range []string{"aes-256-external.wbkey", "sm4-space-hard.wbkey"} {
		t.Run(file, func(t *testing.T) {
			var cases []vectorCase
			for _, c := range vectors(t).Cases {
				if c.KeyFile == file {
					cases = append(cases, c)
				}
			}
			wants := make([][]byte, len(cases))
			for i, c := range cases {
				wants[i] = b64(t, c.Plaintext)
			}
			key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, file))
			if err != nil {
				t.Fatal(err)
			}
			defer key.Close()
			goroutines, rounds := 4*runtime.GOMAXPROCS(0), 20
			if testing.Short() {
				rounds = 3
			}
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					for r := range rounds {
						i := (g + r) % len(cases)
						c := cases[i]
						got, err := key.DecryptB64(c.IV, c.Ciphertext)
						if err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(got, wants[i]) {
							errs <- errors.New(c.Name + ": wrong plaintext")
							return
						}
						whitebox.Wipe(got)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestCloseWhileDecrypting: Close waits for the calls in flight, which all succeed; every
// call after it returns ErrClosed, never a crash or a wrong plaintext.
func TestCloseWhileDecrypting(t *testing.T) {
	c := caseNamed(t, "aes-256-standard.wbkey: 5000 bytes")
	want := b64(t, c.Plaintext)
	iv, ct := b64(t, c.IV), b64(t, c.Ciphertext)
	for attempt := range 3 {
		key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		var ok, closed atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Value
		for range 8 {
			wg.Go(func() {
				for {
					got, err := key.Decrypt(iv, ct)
					switch {
					case err == whitebox.ErrClosed:
						closed.Add(1)
						// Once closed, closed for good.
						if _, err := key.Decrypt(iv, ct); err != whitebox.ErrClosed {
							firstErr.CompareAndSwap(nil, errors.New("a call after ErrClosed did not fail"))
						}
						return
					case err != nil:
						firstErr.CompareAndSwap(nil, err)
						return
					case !bytes.Equal(got, want):
						firstErr.CompareAndSwap(nil, errors.New("wrong plaintext"))
						return
					}
					ok.Add(1)
				}
			})
		}
		deadline := time.Now().Add(5 * time.Second)
		for ok.Load() < int64(10*(attempt+1)) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err := key.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err, _ := firstErr.Load().(error); err != nil {
			t.Fatal(err)
		}
		if ok.Load() == 0 || closed.Load() != 8 {
			t.Fatalf("%d decryptions before Close, %d goroutines saw ErrClosed", ok.Load(), closed.Load())
		}
	}
}

// TestUnclosedKeys: keys dropped without Close are left to the cleanup (the safety net);
// collecting them frees their handles without disturbing the library or a later call.
func TestUnclosedKeys(t *testing.T) {
	c := caseNamed(t, "sm4-space-hard.wbkey: secret")
	for range 20 {
		if _, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	got, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, c.Algorithm)
	if err != nil || !bytes.Equal(got, b64(t, c.Plaintext)) {
		t.Fatalf("after collecting unclosed keys: %v", err)
	}
}

// TestForcedBackend: $WBRUNTIME_BACKEND forces a backend, or is refused with a backend
// error, never replaced by another. The library reads it once per process, so each setting
// runs in a child process: this test binary again, running only this test.
func TestForcedBackend(t *testing.T) {
	path := filepath.Join(vectorsDir, "aes-256-standard.wbkey")
	if want := os.Getenv("WB_GO_TEST_CHILD_BACKEND"); want != "" {
		key, err := whitebox.LoadKeyFile(path)
		if want == "no-such-backend" {
			checkCode(t, err, "01000019")
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer key.Close()
		if b := key.Backend(); b != want {
			t.Fatalf("WBRUNTIME_BACKEND=%s gave backend %q", want, b)
		}
		c := caseNamed(t, "aes-256-standard.wbkey: 5000 bytes")
		got, err := key.DecryptB64(c.IV, c.Ciphertext)
		if err != nil || !bytes.Equal(got, b64(t, c.Plaintext)) {
			t.Fatalf("backend %s, 5000 bytes: %v, or a wrong plaintext", want, err)
		}
		return
	}
	for _, backend := range []string{"soft", "portable", "no-such-backend"} {
		t.Run(backend, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestForcedBackend$", "-test.count=1")
			cmd.Env = append(os.Environ(), "WBRUNTIME_BACKEND="+backend, "WB_GO_TEST_CHILD_BACKEND="+backend)
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("child process with WBRUNTIME_BACKEND=%s: %v\n%s", backend, err, out)
			}
		})
	}
}

// BenchmarkDecrypt: a loaded key, the vectors' 40-byte secret and 5000-byte message.
func BenchmarkDecrypt(b *testing.B) {
	for _, name := range []string{"aes-256-external.wbkey: secret", "aes-256-external.wbkey: 5000 bytes"} {
		c := caseNamed(b, name)
		key, err := whitebox.LoadKeyFile(filepath.Join(vectorsDir, c.KeyFile))
		if err != nil {
			b.Fatal(err)
		}
		iv, ct := b64(b, c.IV), b64(b, c.Ciphertext)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(ct)))
			for b.Loop() {
				plain, err := key.Decrypt(iv, ct)
				if err != nil {
					b.Fatal(err)
				}
				whitebox.Wipe(plain)
			}
		})
		key.Close()
	}
}

// TestKeyFileErrorsNameThePath: a key file error carries the library's own message for the
// failure, passed on as it is: why (no such file, not a key file) and the key file's path.
func TestKeyFileErrorsNameThePath(t *testing.T) {
	c := caseNamed(t, "sm4-standard.wbkey: secret")
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.wbkey")
	notKey := filepath.Join(vectorsDir, "broken-not-a-key-file.wbkey")
	tests := []struct {
		name, code, path, why string
		call                  func() error
	}{
		{"WhiteboxDecrypt", "01000001", missing, "no such file", func() error {
			_, err := whitebox.WhiteboxDecrypt(dir, "missing.wbkey", c.IV, c.Ciphertext, c.Algorithm)
			return err
		}},
		{"WhiteboxEncrypt", "01000001", missing, "no such file", func() error {
			_, err := whitebox.WhiteboxEncrypt(dir, "missing.wbkey", c.IV, []byte("x"), c.Algorithm)
			return err
		}},
		{"LoadKeyFile", "01000001", missing, "no such file", func() error {
			_, err := whitebox.LoadKeyFile(missing)
			return err
		}},
		{"LoadKeyFile, not a key file", "01000002", notKey, "not a white-box key file", func() error {
			_, err := whitebox.LoadKeyFile(notKey)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			checkCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("%q does not say %q and name %s", err.Error(), tt.why, tt.path)
			}
		})
	}
}

// TestErrorMessagesAcrossGoroutines: the library keeps a failure's message per OS thread;
// each error, from many goroutines failing and succeeding at once, names its own key file.
func TestErrorMessagesAcrossGoroutines(t *testing.T) {
	c := caseNamed(t, "sm4-standard.wbkey: secret")
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := filepath.Join(dir, fmt.Sprintf("missing-%d.wbkey", g))
				if i%2 == 0 {
					_, err := whitebox.LoadKeyFile(name)
					if err == nil || !strings.Contains(err.Error(), name) || strings.Count(err.Error(), "missing-") != 1 {
						errs <- err
						return
					}
				} else if _, err := whitebox.WhiteboxDecrypt(vectorsDir, c.KeyFile, c.IV, c.Ciphertext, c.Algorithm); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("wrong error: %v", err)
	}
}
