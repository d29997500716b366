package whitebox

import "errors"

// Error is a failure reported by the runtime, with its stable eight-digit code (the table in
// the project's README: "01000016" is device not bound) and the library's English message for
// that failure, passed on as the library gave it: the code's message with its details, such
// as why a key file could not be read and its path. It never holds plaintext, key or table
// bytes. Match it with [errors.Is] against the sentinels ([ErrKeyFile], [ErrDecryption], …)
// or another *Error with the same Code; get at the code with [errors.As]:
//
//	var e *whitebox.Error
//	if errors.As(err, &e) && e.Code == "01000016" { … }
type Error struct {
	Code    string // eight digits, e.g. "01000011"
	Message string // the library's (wb_last_error_message); never holds secret bytes
}

// Error formats the error as the command-line tools print it: "error 01000016: …".
func (e *Error) Error() string {
	return "error " + e.Code + ": " + e.Message
}

// Is reports whether the error belongs to target's class (one of the sentinels), or has the
// same code as target when that is an *Error.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t != nil && t.Code == e.Code
	}
	for _, class := range classes[e.Code] {
		if class == target {
			return true
		}
	}
	return false
}

// Sentinels for [errors.Is]. An [*Error] matches the class of its code; the classes follow
// the Python package's exception hierarchy, so that one code means the same in every SDK.
var (
	// ErrKeyFile: the key file is missing or unreadable (01000001), not a key file (01000002),
	// of an unknown format version (01000003), truncated (01000004), malformed (01000005) or
	// corrupted (01000006), or this device's fingerprint could not be collected for a bound
	// file (01000014). Also matched by [ErrEncryptionUnsupported]'s code, 01000018: the file's
	// mode does not encrypt.
	ErrKeyFile = errors.New("whitebox: key file error")
	// ErrInvalidArgument: unknown algorithm number (01000007), key file of the other
	// algorithm (01000008), IV not 16 bytes (01000009), invalid Base64 (01000010), a null
	// pointer (01000020) or a string that is not UTF-8 or holds a NUL byte (01000021). Also
	// matched by [ErrBackend]'s codes.
	ErrInvalidArgument = errors.New("whitebox: invalid argument")
	// ErrDecryption: decryption failed (01000011): wrong length, bad padding, wrong key or
	// corrupted ciphertext. Deliberately opaque.
	ErrDecryption = errors.New("whitebox: decryption failed")
	// ErrDeviceNotBound: the key file is bound to other devices (01000016).
	ErrDeviceNotBound = errors.New("whitebox: device not bound")
	// ErrBackend: $WBRUNTIME_BACKEND forces a backend this CPU or build cannot run (01000017)
	// or names none (01000019).
	ErrBackend = errors.New("whitebox: backend unavailable")
	// ErrEncryptionUnsupported: encryption was asked of an external- or standard-mode key
	// file, whose tables only decrypt (01000018); only space-hard key files encrypt.
	ErrEncryptionUnsupported = errors.New("whitebox: encryption unsupported by this key file")
	// ErrInternal: a panic caught at the C boundary (01000022), or an impossible answer from
	// the library: a bug, please report it.
	ErrInternal = errors.New("whitebox: internal error")
	// ErrClosed: a call on a [Key] after [Key.Close]. Returned as is, not as an *Error: it has
	// no runtime code.
	ErrClosed = errors.New("whitebox: key is closed")
)

var classes = map[string][]error{
	"01000001": {ErrKeyFile},
	"01000002": {ErrKeyFile},
	"01000003": {ErrKeyFile},
	"01000004": {ErrKeyFile},
	"01000005": {ErrKeyFile},
	"01000006": {ErrKeyFile},
	"01000014": {ErrKeyFile},
	"01000007": {ErrInvalidArgument},
	"01000008": {ErrInvalidArgument},
	"01000009": {ErrInvalidArgument},
	"01000010": {ErrInvalidArgument},
	"01000020": {ErrInvalidArgument},
	"01000021": {ErrInvalidArgument},
	"01000011": {ErrDecryption},
	"01000016": {ErrDeviceNotBound},
	"01000017": {ErrBackend, ErrInvalidArgument},
	"01000019": {ErrBackend, ErrInvalidArgument},
	"01000018": {ErrEncryptionUnsupported, ErrKeyFile},
	"01000022": {ErrInternal},
}
