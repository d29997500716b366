package whitebox

// The one build step: `go generate ./...` in sdk/go builds the C ABI's static library with
// cargo (--release --locked, honouring CARGO_TARGET_DIR) and copies it and wbruntime.h into
// internal/native/, which the #cgo directives in whitebox.go link. Re-run it whenever the Rust
// runtime changes.

//go:generate bash build-native.sh
