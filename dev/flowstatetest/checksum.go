package flowstatetest

import (
	"crypto/fips140"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"

	sdkworker "go.temporal.io/sdk/worker"
)

// presetBinaryChecksum computes the checksum that the Temporal SDK gives the process's workers
// (the executable's MD5, its SHA-256 in FIPS mode, as the SDK computes it) and sets it, so that
// the SDK does not compute it later. The SDK does so lazily, and its in-memory test environment,
// which flowstate's testsuite package runs flows in, does it inside workflow code on a run's first
// task: in a test binary that links the Temporal server, hundreds of megabytes, that takes long
// enough (most of a second under -race) to trip the SDK's one-second deadlock detector. When the
// executable cannot be read, the SDK is left to try.
func presetBinaryChecksum() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open(exe)
	if err != nil {
		return
	}
	defer f.Close()
	var h hash.Hash = md5.New()
	if fips140.Enabled() {
		h = sha256.New()
	}
	if _, err := io.Copy(h, f); err != nil {
		return
	}
	sdkworker.SetBinaryChecksum(hex.EncodeToString(h.Sum(nil)))
}
