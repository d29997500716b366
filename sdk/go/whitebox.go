// Package whitebox decrypts secrets with white-box key files, from Go.
//
// It is a thin cgo layer over the C ABI of the Rust runtime (wbruntime-ffi), linked as a
// static library: the resulting binary needs no shared library at run time. Before the first
// build, run `go generate ./...` in the module's directory (sdk/go): build-native.sh builds
// the library with cargo and copies it, with its header, into internal/native/.
//
// Two ways to decrypt, as in the C ABI:
//
//   - [WhiteboxDecrypt] reads the key file and decrypts one Base64 ciphertext, in the style
//     of the KMS SDKs' whitebox_decrypt.
//   - [LoadKeyFile] or [LoadKey] validates a key file once into a [Key], which then decrypts
//     any number of messages from any number of goroutines until [Key.Close].
//
// Space-hard key files also encrypt ([WhiteboxEncrypt], [Key.Encrypt]); the other modes only
// decrypt ([ErrEncryptionUnsupported]).
//
// Every failure is an [*Error] carrying the stable eight-digit code of the project's README,
// and matches one of the sentinel errors with [errors.Is]. Errors never contain plaintext,
// key or table bytes. Decryption failures are deliberately opaque ([ErrDecryption]): the
// runtime never says why padding or length was wrong.
//
// Returned plaintexts are fresh Go slices; the C buffers they were copied from are wiped
// before being freed. Wipe the returned slice with [Wipe] once the secret has been used.
package whitebox

/*
#cgo CFLAGS: -I${SRCDIR}/internal/native
#cgo LDFLAGS: ${SRCDIR}/internal/native/libwbruntime_ffi.a -lpthread -ldl -lm
#include <stdlib.h>
#if defined(__has_include)
#if !__has_include("wbruntime.h")
#error "internal/native/ is empty: run `go generate ./...` in sdk/go first (build-native.sh)"
#endif
#endif
#include "wbruntime.h"
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Algorithm numbers, as the C ABI and the KMS SDKs take them.
const (
	AES256 = 0 // AES-256-CBC with PKCS#7
	SM4    = 1 // SM4-CBC with PKCS#7
)

// Codes the Go layer itself reports for arguments it cannot pass to C.
const (
	codeIO             = 1000001 // a path holds a NUL byte (no such file can be opened)
	codeBadAlgorithm   = 1000007 // the algorithm number does not fit the C ABI's uint32
	codeInvalidBase64  = 1000010 // a Base64 argument holds a NUL byte
	codeBufferTooSmall = C.WB_ERR_BUFFER_TOO_SMALL
	codeInvalidString  = C.WB_ERR_INVALID_UTF8 // a fingerprint holds a NUL byte
)

// maxNegotiationRounds bounds the calls one output-size negotiation may take (the first
// guess is always big enough; a second call is a fallback).
const maxNegotiationRounds = 3

// Version is the version of the linked native library.
func Version() string {
	return C.GoString(C.wb_version())
}

// WhiteboxDecrypt decrypts one secret like the KMS SDKs' whitebox_decrypt: the key file
// keyFile in directory keyDir, the Base64 IV and ciphertext (CBC, PKCS#7), algorithm
// [AES256] or [SM4]. A key file bound to devices is checked against this device's collected
// fingerprint; use [WhiteboxDecryptWithFingerprint] to give one. Wipe the result with [Wipe]
// once used.
func WhiteboxDecrypt(keyDir, keyFile, ivB64, ciphertextB64 string, algorithm int) ([]byte, error) {
	return WhiteboxDecryptWithFingerprint(keyDir, keyFile, ivB64, ciphertextB64, algorithm, "")
}

// WhiteboxDecryptWithFingerprint is [WhiteboxDecrypt] with this device's fingerprint given
// (a wbfp1-… string from wbfingerprint). An empty fingerprint means: collect this device's
// fingerprint when the key file is bound.
func WhiteboxDecryptWithFingerprint(keyDir, keyFile, ivB64, ciphertextB64 string, algorithm int, fingerprint string) ([]byte, error) {
	alg, err := algorithmArg(algorithm)
	if err != nil {
		return nil, err
	}
	var args cStrings
	defer args.free()
	dir, file := args.add(keyDir, codeIO), args.add(keyFile, codeIO)
	iv, ct := args.add(ivB64, codeInvalidBase64), args.add(ciphertextB64, codeInvalidBase64)
	fp := args.addOptional(fingerprint, codeInvalidString)
	if args.err != nil {
		return nil, args.err
	}
	// The plaintext is shorter than the decoded ciphertext, which is shorter than its Base64.
	return withOutput(len(ciphertextB64), func(out *C.uint8_t, outLen *C.size_t) C.int32_t {
		return C.whitebox_decrypt_with_fingerprint(dir, file, iv, ct, alg, fp, out, outLen)
	})
}

// WhiteboxEncrypt encrypts plaintext with a space-hard key file, the counterpart of
// [WhiteboxDecrypt]: CBC with PKCS#7 under the Base64 IV ivB64 (16 bytes: draw a fresh random
// IV for every message), returning the Base64 ciphertext. External- and standard-mode key
// files only decrypt: [ErrEncryptionUnsupported].
func WhiteboxEncrypt(keyDir, keyFile, ivB64 string, plaintext []byte, algorithm int) (string, error) {
	return WhiteboxEncryptWithFingerprint(keyDir, keyFile, ivB64, plaintext, algorithm, "")
}

// WhiteboxEncryptWithFingerprint is [WhiteboxEncrypt] with this device's fingerprint given
// (empty: collect it when the key file is bound).
func WhiteboxEncryptWithFingerprint(keyDir, keyFile, ivB64 string, plaintext []byte, algorithm int, fingerprint string) (string, error) {
	alg, err := algorithmArg(algorithm)
	if err != nil {
		return "", err
	}
	var args cStrings
	defer args.free()
	dir, file := args.add(keyDir, codeIO), args.add(keyFile, codeIO)
	iv := args.add(ivB64, codeInvalidBase64)
	fp := args.addOptional(fingerprint, codeInvalidString)
	if args.err != nil {
		return "", args.err
	}
	padded := (len(plaintext)/16 + 1) * 16
	capacity := (padded+2)/3*4 + 1 // Base64 of the padded ciphertext, and the NUL
	text, err := withOutput(capacity, func(out *C.uint8_t, outLen *C.size_t) C.int32_t {
		return C.whitebox_encrypt_with_fingerprint(dir, file, iv, bytesArg(plaintext),
			C.size_t(len(plaintext)), alg, fp, (*C.char)(unsafe.Pointer(out)), outLen)
	})
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// Key is a loaded, validated key file. Load it once and decrypt many times: its methods are
// safe for concurrent use by any number of goroutines.
//
// Close frees the native tables (megabytes per key, outside Go's heap). It waits for calls
// in flight on other goroutines; calls made after Close return [ErrClosed]. A Key that
// becomes unreachable without Close is freed by a cleanup ([runtime.AddCleanup]) as a safety
// net, at a time the garbage collector chooses: call Close.
type Key struct {
	mu      sync.RWMutex // read-held by every call on the handle; write-held by Close
	h       *C.wb_key    // nil once closed
	cleanup runtime.Cleanup
}

// LoadKeyFile loads and validates the key file at path. A key file bound to devices is
// checked against this device's collected fingerprint: [ErrDeviceNotBound] on any other
// device. Use [LoadKeyFileWithFingerprint] to give a fingerprint.
func LoadKeyFile(path string) (*Key, error) {
	return LoadKeyFileWithFingerprint(path, "")
}

// LoadKeyFileWithFingerprint is [LoadKeyFile] with this device's fingerprint given (empty:
// collect it when the key file is bound).
func LoadKeyFileWithFingerprint(path, fingerprint string) (*Key, error) {
	var args cStrings
	defer args.free()
	p := args.add(path, codeIO)
	fp := args.addOptional(fingerprint, codeInvalidString)
	if args.err != nil {
		return nil, args.err
	}
	var h *C.wb_key
	if err := call(func() C.int32_t { return C.wb_key_load_file(p, fp, &h) }); err != nil {
		return nil, err
	}
	return newKey(h), nil
}

// LoadKey loads and validates a key file held in memory. The library copies the bytes; data
// may be reused afterwards. Bound key files are checked as by [LoadKeyFile].
func LoadKey(data []byte) (*Key, error) {
	return LoadKeyWithFingerprint(data, "")
}

// LoadKeyWithFingerprint is [LoadKey] with this device's fingerprint given (empty: collect it
// when the key file is bound).
func LoadKeyWithFingerprint(data []byte, fingerprint string) (*Key, error) {
	var args cStrings
	defer args.free()
	fp := args.addOptional(fingerprint, codeInvalidString)
	if args.err != nil {
		return nil, args.err
	}
	var h *C.wb_key
	err := call(func() C.int32_t {
		return C.wb_key_load_buffer(bytesArg(data), C.size_t(len(data)), fp, &h)
	})
	if err != nil {
		return nil, err
	}
	return newKey(h), nil
}

func newKey(h *C.wb_key) *Key {
	k := &Key{h: h}
	k.cleanup = runtime.AddCleanup(k, func(h *C.wb_key) { C.wb_key_free(h) }, h)
	return k
}

// use runs f with the live handle, holding the read lock so that Close waits for it.
func (k *Key) use(f func(h *C.wb_key) ([]byte, error)) ([]byte, error) {
	if k == nil {
		return nil, ErrClosed
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.h == nil {
		return nil, ErrClosed
	}
	return f(k.h)
}

// Decrypt decrypts ciphertext (CBC, PKCS#7) under iv (16 bytes). Wipe the result with [Wipe]
// once used.
func (k *Key) Decrypt(iv, ciphertext []byte) ([]byte, error) {
	plain, err := k.use(func(h *C.wb_key) ([]byte, error) {
		// The C ABI wants room for the padded length, ciphertext's own.
		return withOutput(len(ciphertext), func(out *C.uint8_t, outLen *C.size_t) C.int32_t {
			return C.wb_key_decrypt(h, bytesArg(iv), C.size_t(len(iv)),
				bytesArg(ciphertext), C.size_t(len(ciphertext)), out, outLen)
		})
	})
	return plain, err
}

// DecryptB64 is [Key.Decrypt] with the IV and ciphertext in Base64, as [WhiteboxDecrypt]
// takes them.
func (k *Key) DecryptB64(ivB64, ciphertextB64 string) ([]byte, error) {
	return k.use(func(h *C.wb_key) ([]byte, error) {
		var args cStrings
		defer args.free()
		iv, ct := args.add(ivB64, codeInvalidBase64), args.add(ciphertextB64, codeInvalidBase64)
		if args.err != nil {
			return nil, args.err
		}
		return withOutput(len(ciphertextB64), func(out *C.uint8_t, outLen *C.size_t) C.int32_t {
			return C.wb_key_decrypt_b64(h, iv, ct, out, outLen)
		})
	})
}

// Encrypt encrypts plaintext under iv (16 bytes: draw a fresh random IV for every message)
// with a space-hard key, CBC with PKCS#7; the ciphertext is (len(plaintext)/16+1)*16 bytes.
// Keys of the other modes only decrypt: [ErrEncryptionUnsupported].
func (k *Key) Encrypt(iv, plaintext []byte) ([]byte, error) {
	ct, err := k.use(func(h *C.wb_key) ([]byte, error) {
		return withOutput((len(plaintext)/16+1)*16, func(out *C.uint8_t, outLen *C.size_t) C.int32_t {
			return C.wb_key_encrypt(h, bytesArg(iv), C.size_t(len(iv)),
				bytesArg(plaintext), C.size_t(len(plaintext)), out, outLen)
		})
	})
	return ct, err
}

// Backend names the backend the key runs long messages on ("soft", "portable", "neon",
// "avx2", "avx512vbmi"): the fastest this CPU has, or the one $WBRUNTIME_BACKEND forces.
// "none" once the key is closed.
func (k *Key) Backend() string {
	name := "none"
	_, _ = k.use(func(h *C.wb_key) ([]byte, error) {
		name = C.GoString(C.wb_key_backend(h))
		return nil, nil
	})
	return name
}

// Algorithm is the key's algorithm, [AES256] or [SM4]; -1 once the key is closed.
func (k *Key) Algorithm() int {
	alg := -1
	_, _ = k.use(func(h *C.wb_key) ([]byte, error) {
		alg = int(C.wb_key_algorithm(h))
		return nil, nil
	})
	return alg
}

// Close frees the key's native tables, after waiting for calls in flight on other
// goroutines. Later calls on the key return [ErrClosed]; closing again does nothing and
// returns nil.
func (k *Key) Close() error {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h != nil {
		k.cleanup.Stop()
		C.wb_key_free(k.h)
		k.h = nil
	}
	return nil
}

// Wipe overwrites b with zeros (through the native library's wb_wipe, which the compiler
// cannot remove). Use it on returned plaintexts once the secret has been used. It wipes this
// slice's backing array only: copies the program made (string conversions, appends that
// reallocated, buffers of other packages) are not reached, and Go's garbage collector may in
// principle have moved or copied the memory, so Wipe narrows the window rather than
// guaranteeing no copy remains.
func Wipe(b []byte) {
	if len(b) == 0 {
		return
	}
	C.wb_wipe((*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b)))
}

// newError is the *Error for a code the Go layer reports itself (an argument it cannot pass
// to C), with the library's fixed message for that code. Failures of calls into the library
// take the library's own message instead: see [call].
func newError(code C.int32_t) *Error {
	return &Error{
		Code:    fmt.Sprintf("%08d", int32(code)),
		Message: C.GoString(C.wb_error_message(code)),
	}
}

// call runs one call into the library and returns nil, or the *Error for the code it
// returned with the library's message for that failure (wb_last_error_message: the code's
// message with its details, such as why a key file could not be read and its path), passed
// on as it is. That message is kept per OS thread until the thread's next call into the
// library, so the goroutine stays on one thread from the call to the read.
func call(f func() C.int32_t) error {
	rc, err := callCode(f)
	if rc == C.WB_OK {
		return nil
	}
	return err
}

// callCode is [call] returning the code too (for the output-size negotiation, which reads
// WB_ERR_BUFFER_TOO_SMALL as a request rather than a failure).
func callCode(f func() C.int32_t) (C.int32_t, *Error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc == C.WB_OK {
		return rc, nil
	}
	e := &Error{Code: fmt.Sprintf("%08d", int32(rc)), Message: C.GoString(C.wb_last_error_message())}
	if e.Message == "" { // never from a correct library: keep the code's own message
		e.Message = C.GoString(C.wb_error_message(rc))
	}
	return rc, e
}

// withOutput runs native with a C buffer of capacity bytes (at least one), following the C
// ABI's size negotiation: on WB_ERR_BUFFER_TOO_SMALL it retries with the size the library
// asked for. The result is copied into a fresh Go slice, and the C buffer is wiped with
// wb_wipe before it is freed, whatever the outcome.
func withOutput(capacity int, native func(out *C.uint8_t, outLen *C.size_t) C.int32_t) ([]byte, error) {
	for range maxNegotiationRounds {
		size := max(capacity, 1)
		buf := (*C.uint8_t)(C.malloc(C.size_t(size)))
		// outLen lives in C memory too, so that no Go pointer is handed to C here.
		outLen := (*C.size_t)(C.malloc(C.size_t(unsafe.Sizeof(C.size_t(0)))))
		*outLen = C.size_t(capacity)
		rc, err := callCode(func() C.int32_t { return native(buf, outLen) })
		n := int(*outLen)
		var out []byte
		if rc == C.WB_OK && n <= size {
			out = make([]byte, n)
			copy(out, unsafe.Slice((*byte)(unsafe.Pointer(buf)), n))
		}
		C.wb_wipe(buf, C.size_t(size))
		C.free(unsafe.Pointer(buf))
		C.free(unsafe.Pointer(outLen))
		switch {
		case rc == C.WB_OK && out != nil:
			return out, nil
		case rc == C.WB_OK: // a length beyond the buffer: never from a correct library
			return nil, newError(C.WB_ERR_INTERNAL)
		case rc == codeBufferTooSmall && n > capacity:
			capacity = n
		default:
			return nil, err
		}
	}
	return nil, newError(codeBufferTooSmall)
}

// bytesArg is a pointer to b's bytes for a C call (null for an empty slice). cgo pins the
// memory for the duration of the call; the C ABI only reads it then and keeps no reference.
func bytesArg(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// algorithmArg checks that an algorithm number fits the C ABI's uint32: a larger int must not
// wrap around to a valid algorithm.
func algorithmArg(algorithm int) (C.uint32_t, error) {
	if algorithm < 0 || uint64(algorithm) > math.MaxUint32 {
		return 0, newError(codeBadAlgorithm)
	}
	return C.uint32_t(algorithm), nil
}

// cStrings holds the C copies of string arguments for one call, and the first argument that
// could not be passed: C strings end at a NUL byte, so a Go string holding one would reach
// the library cut short (a different path, or a shorter Base64 text).
type cStrings struct {
	ptrs []*C.char
	err  error
}

func (a *cStrings) add(s string, code C.int32_t) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		if a.err == nil {
			a.err = newError(code)
		}
		return nil
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, p)
	return p
}

// addOptional is add, with the empty string passed as null (the library's "not given").
func (a *cStrings) addOptional(s string, code C.int32_t) *C.char {
	if s == "" {
		return nil
	}
	return a.add(s, code)
}

func (a *cStrings) free() {
	for _, p := range a.ptrs {
		C.free(unsafe.Pointer(p))
	}
	a.ptrs = nil
}
