// Command decrypt-secret decrypts one secret with a white-box key file and prints it: the
// Go SDK's whitebox_decrypt, as a complete program.
//
//	decrypt-secret --key-dir DIR --key-file FILE --iv IV_B64 --ciphertext CT_B64 --algorithm 0|1
//
// Algorithm 0 is AES-256, 1 is SM4. Exit status: 0 with the secret on standard output; 1 on
// a runtime error ("error CODE: message" on standard error); 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"wbtoolkit/whitebox"
)

const usage = "usage: decrypt-secret --key-dir DIR --key-file FILE --iv IV_B64 --ciphertext CIPHERTEXT_B64 --algorithm 0|1 (0 = AES-256, 1 = SM4)"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("decrypt-secret", flag.ContinueOnError)
	flags.Usage = func() { fmt.Fprintln(os.Stderr, usage) }
	keyDir := flags.String("key-dir", "", "directory holding the key file")
	keyFile := flags.String("key-file", "", "key file name, in --key-dir")
	iv := flags.String("iv", "", "IV, Base64 (16 bytes)")
	ciphertext := flags.String("ciphertext", "", "ciphertext, Base64")
	algorithm := flags.Int("algorithm", -1, "0 = AES-256, 1 = SM4")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed what was wrong, and the usage
	}
	if *keyDir == "" || *keyFile == "" || *iv == "" || *ciphertext == "" ||
		(*algorithm != whitebox.AES256 && *algorithm != whitebox.SM4) || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}

	secret, err := whitebox.WhiteboxDecrypt(*keyDir, *keyFile, *iv, *ciphertext, *algorithm)
	if err != nil {
		// The error reads "error 01000001: <the runtime's message>"; its class is matched
		// with errors.Is, its code read with errors.As.
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, whitebox.ErrDeviceNotBound) {
			fmt.Fprintln(os.Stderr, "this key file is bound to other devices: export one that includes this device's fingerprint (wbfingerprint)")
		}
		var e *whitebox.Error
		if errors.As(err, &e) && e.Code == "01000011" {
			fmt.Fprintln(os.Stderr, "check the IV, the ciphertext and that the key file is the one it was encrypted for")
		}
		return 1
	}
	defer whitebox.Wipe(secret) // wipe the secret once used
	if _, err := os.Stdout.Write(secret); err != nil {
		fmt.Fprintln(os.Stderr, "cannot write the secret:", err)
		return 1
	}
	fmt.Println()
	return 0
}
