// Package temporalcli finds the real temporal CLI for end-to-end tests, installing it when it is
// missing: `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into a cache directory
// (about four minutes the first time on these machines, then instant).
package temporalcli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the temporal CLI release the tests use: later releases refuse `go install`.
const Version = "v1.5.1"

// Module is the CLI's main package.
const Module = "github.com/temporalio/cli/cmd/temporal"

// Env names an environment variable that points at a temporal binary to use as is.
const Env = "FLOWSTATE_TEMPORAL_CLI"

var (
	once    sync.Once
	path    string
	findErr error
)

// Path returns the path of a temporal CLI binary, or fails the test. It uses, in order:
// $FLOWSTATE_TEMPORAL_CLI, a `temporal` on PATH that reports Version, a binary installed earlier
// into the cache directory, or installs one there.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() { path, findErr = find() })
	if findErr != nil {
		t.Fatalf("temporalcli: %v", findErr)
	}
	return path
}

func find() (string, error) {
	if p := os.Getenv(Env); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("temporal"); err == nil && reportsVersion(p) {
		return p, nil
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "temporal")
	if reportsVersion(bin) {
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "temporalcli: installing the temporal CLI %s into %s (a few minutes the first time)...\n", Version, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %v\n%s", Module, Version, err, out.String())
	}
	if !reportsVersion(bin) {
		return "", fmt.Errorf("installed %s but it does not report version %s", bin, Version)
	}
	return bin, nil
}

func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "flowstate", "temporal-cli-"+Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return dir, nil
}

// reportsVersion reports whether bin is the temporal CLI of Version. A release binary prints
// "temporal version 1.5.1 …"; one built with go install prints "0.0.0-DEV (Server 1.29.1, …)",
// the server release v1.5.1 embeds.
func reportsVersion(bin string) bool {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	s := string(out)
	return err == nil && strings.HasPrefix(s, "temporal version") &&
		(strings.Contains(s, strings.TrimPrefix(Version, "v")) || strings.Contains(s, "Server 1.29.1"))
}

// Run runs the CLI with args against the server at address, in namespace "default" unless args
// say otherwise, and returns its combined output. It logs the command and its output.
func Run(t testing.TB, address string, args ...string) (string, error) {
	t.Helper()
	bin := Path(t)
	full := append(append([]string(nil), args...), "--address", address)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS=", "TEMPORAL_NAMESPACE=")
	out, err := cmd.CombinedOutput()
	t.Logf("$ temporal %s\n%s", strings.Join(full, " "), out)
	return string(out), err
}
