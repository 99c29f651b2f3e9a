package main_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/flowstatetest"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }

// build builds the quick start into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quickstart")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// The README's quick start is this program, to the byte: what a reader copies compiles, runs,
// and is tested here.
func TestReadmeShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	require.NoError(t, err)
	section := regexp.MustCompile("(?s)\n## Quick start\n.*?```go\n(.*?)```\n").FindSubmatch(readme)
	require.NotNil(t, section, "README.md has no ## Quick start section with a go block")
	program, err := os.ReadFile("main.go")
	require.NoError(t, err)
	require.Equal(t, string(program), string(section[1]), "the README's quick start differs from dev/examples/quickstart/main.go")
}

// With no server where TEMPORAL_ADDRESS points, the quick start says so and exits 1: no panic.
func TestQuickStartWithoutServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, build(t))
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+addr, "TEMPORAL_NAMESPACE=")
	out, err := cmd.CombinedOutput()
	t.Logf("$ TEMPORAL_ADDRESS=%s quickstart\n%s", addr, out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "flowstate: connecting to Temporal at "+addr+" (namespace default): ")
	require.NotContains(t, string(out), "panic")
	require.NotContains(t, string(out), "nil pointer")
}

// Against a server, the quick start's worker runs pipeline, and stops cleanly on Ctrl-C.
func TestQuickStartRunsPipeline(t *testing.T) {
	srv := flowstatetest.Shared(t)
	cmd := exec.Command(build(t))
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+srv.HostPort(), "TEMPORAL_NAMESPACE="+srv.Namespace())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	c := srv.NewClient(t, client.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "my-queue"}, "pipeline",
		map[string]string{"URL": "https://example.com"})
	require.NoError(t, err)
	var n int
	require.NoError(t, run.Get(ctx, &n))
	require.Equal(t, len("https://example.com"), n)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "the worker did not stop cleanly:\n%s", out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not stop on SIGINT:\n%s", out.String())
	}
	require.False(t, strings.Contains(out.String(), "panic"), out.String())
}
