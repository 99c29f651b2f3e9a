package gomodule_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// libModule and devModule are flowstate's two modules.
	libModule = "github.com/flowstate/flowstate"
	devModule = "github.com/flowstate/flowstate/dev"
	// release is the version this checkout is served as: the dev module requires the library
	// at it.
	release = "v0.2.0"
)

func TestMain(m *testing.M) {
	code := m.Run()
	writeReport()
	os.Exit(code)
}

// goEnv reads one setting of the go command as the tests' own go commands see it.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err, "go env %s", name)
	return strings.TrimSpace(string(out))
}

// moduleDir is the directory of one of this checkout's modules.
func moduleDir(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", path).Output()
	require.NoError(t, err, "go list -m %s", path)
	dir := strings.TrimSpace(string(out))
	require.FileExists(t, filepath.Join(dir, "go.mod"))
	return dir
}

// cacheFirstProxy is a GOPROXY list that reads the module cache first, then the go command's
// own GOPROXY: offline once the cache holds what is needed.
func cacheFirstProxy(t *testing.T) string {
	t.Helper()
	proxies := []string{fileURL(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download"))}
	if p := goEnv(t, "GOPROXY"); p != "" && p != "off" {
		proxies = append(proxies, p)
	}
	return strings.Join(proxies, ",")
}

func fileURL(dir string) string { return "file://" + filepath.ToSlash(dir) }

// userEnv is the environment of a go command run in a throwaway module outside this
// repository: no workspace, module downloads allowed, this toolchain.
func userEnv(proxy string, extra ...string) []string {
	return append(append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"GOPROXY="+proxy,
		// flowstate's modules are served from a directory or replaced, never in the checksum
		// database.
		"GONOSUMDB="+libModule,
	), extra...)
}

// runGo runs the go command in dir and returns its standard output. Its standard error goes to
// the test log line by line, and a line every 30 seconds says it still runs.
func runGo(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	t.Logf("$ go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout bytes.Buffer
	stderr := &lineLogger{t: t}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				t.Logf("  … go %s still running after %s", args[0], time.Since(start).Round(time.Second))
			}
		}
	}()
	err := cmd.Run()
	close(done)
	stderr.flush()
	require.NoError(t, err, "go %s failed after %s; its output is above", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	t.Logf("  (%s)", time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// lineLogger writes what it is given to the test log, a line at a time.
type lineLogger struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Log("  " + string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Log("  " + string(l.buf))
		l.buf = nil
	}
}

var (
	reportMu    sync.Mutex
	reportLines []string
)

// report logs a measurement and keeps it for the report file.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	reportMu.Lock()
	defer reportMu.Unlock()
	reportLines = append(reportLines, line)
}

// writeReport writes the measurements to $FLOWSTATE_REPORT_DIR/gomodule.txt, which CI prints:
// go test hides what passing tests log.
func writeReport() {
	dir := os.Getenv("FLOWSTATE_REPORT_DIR")
	reportMu.Lock()
	defer reportMu.Unlock()
	if dir == "" || len(reportLines) == 0 {
		return
	}
	text := strings.Join(reportLines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "gomodule.txt"), []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gomodule: writing the report:", err)
	}
}
