#!/usr/bin/env bash
# The Go SDK's checks, as CI runs them (.ci/run): the build step (go generate), formatting,
# vet, a tidy module with no dependencies, the tests (table-driven over test-vectors/sdk,
# examples, concurrency), the race detector, and the fuzz target for a short while
# (WB_GO_FUZZTIME, default 10s). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n---- go: %s ----\n' "$*"; }

command -v go >/dev/null 2>&1 || { echo "go is not installed"; exit 1; }
go version
export CGO_ENABLED=1

step "build step: go generate ./... (cargo build of wbruntime-ffi, copied to internal/native)"
go generate ./...

step "gofmt -l (must list nothing)"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
    echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go mod tidy: standard library only, nothing to fetch, nothing to change"
before=$(cat go.mod)
GOPROXY=off GOFLAGS=-mod=mod go mod tidy
if [ "$before" != "$(cat go.mod)" ] || [ -e go.sum ]; then
    echo "go mod tidy changed go.mod or made go.sum: the SDK must use only the standard library"
    diff <(printf "%s\n" "$before") go.mod || true
    exit 1
fi

step "go test"
go test -count=1 ./...

step "go test -race"
go test -count=1 -race ./...

fuzztime=${WB_GO_FUZZTIME:-10s}
step "fuzz: FuzzDecrypt for $fuzztime"
go test -run XXX -fuzz FuzzDecrypt -fuzztime "$fuzztime" .

echo
echo "Go SDK OK"
