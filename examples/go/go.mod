module example.com/decrypt-secret

go 1.26

require wbtoolkit/whitebox v0.0.0

// The Go SDK from this repository's checkout: point this at your own copy of sdk/go.
replace wbtoolkit/whitebox => ../../sdk/go
