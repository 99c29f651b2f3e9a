package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/dev/internal/temporalcli"
	"github.com/flowstate/flowstate/dev/internal/workerproc"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// flowstateBin builds cmd/flowstate once per test binary.
func flowstateBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowstate-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "flowstate")
		// -trimpath, as dev/internal/gomodule's `go install` test builds: the two share the
		// compiled Temporal server in the build cache.
		out, err := exec.Command("go", "build", "-trimpath", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// devProcess is `flowstate dev` running as a separate process.
type devProcess struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

// startDev starts `flowstate dev --headless` on a free port with extra args, and waits until it is
// ready (its worker runs, unless --no-examples).
func startDev(t *testing.T, port int, extra ...string) *devProcess {
	t.Helper()
	args := append([]string{"dev", "--headless", "--port", fmt.Sprint(port)}, extra...)
	cmd := exec.Command(flowstateBin(t), args...)
	cmd.Env = append(os.Environ(), "FLOWSTATE_EXAMPLES_DIR="+t.TempDir())
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	require.NoError(t, cmd.Start())
	d := &devProcess{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			d.mu.Lock()
			d.out.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Press Ctrl-C to stop.") {
				signalled = true
				close(ready)
			}
		}
	}()
	go func() { d.done <- cmd.Wait(); _ = pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-d.done:
		t.Fatalf("flowstate dev exited early: %v\n%s", err, d.output())
	case <-time.After(60 * time.Second):
		t.Fatalf("flowstate dev did not get ready:\n%s", d.output())
	}
	t.Logf("$ flowstate %s\n%s", strings.Join(args, " "), d.output())
	return d
}

func (d *devProcess) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// stop interrupts `flowstate dev` and checks that it stopped cleanly.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-d.done:
		require.NoError(t, err, "flowstate dev did not exit cleanly:\n%s", d.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("flowstate dev did not stop:\n%s", d.output())
	}
	require.Contains(t, d.output(), "stopping the Temporal server")
}

// flowstate runs the flowstate binary against d and returns its output.
func (d *devProcess) flowstate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowstateBin(t), args...)
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+d.addr, "TEMPORAL_NAMESPACE=default")
	out, err := cmd.CombinedOutput()
	t.Logf("$ flowstate %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// temporal runs the real temporal CLI against d.
func (d *devProcess) temporal(t *testing.T, args ...string) string {
	t.Helper()
	out, err := temporalcli.Run(t, d.addr, args...)
	require.NoError(t, err, out)
	return out
}

// `flowstate dev --headless` as its own process, driven by the real temporal CLI: start a flow by
// type with JSON input, wait for its result, read its state history through flowstate states and
// through temporal workflow query, find it by its FlowState, and stop the server cleanly.
func TestDevWithTemporalCLI(t *testing.T) {
	d := startDev(t, freePort(t))

	d.temporal(t, "workflow", "start", "--type", "ok-with-failure-flow", "--task-queue", "flowstate-examples",
		"--workflow-id", "e2e-hook-args", "--input", `{"x": "foo", "y": 42}`)
	out := d.temporal(t, "workflow", "result", "--workflow-id", "e2e-hook-args")
	require.Contains(t, out, "COMPLETED")
	require.Contains(t, out, `"bar"`)

	out, err := d.flowstate(t, "states", "e2e-hook-args")
	require.NoError(t, err)
	require.Contains(t, out, "flow ok-with-failure-flow, workflow ID e2e-hook-args")
	require.Contains(t, out, `task bad-task#1              Failed("meh")`)
	require.Contains(t, out, "hook on_failure my-hook: completed")
	require.Contains(t, out, "Completed")

	out = d.temporal(t, "workflow", "query", "--workflow-id", "e2e-hook-args", "--type", "flowstate.states")
	require.Contains(t, out, `"hook":"my-hook"`)
	require.Contains(t, out, `"name":"Completed"`)

	out = d.temporal(t, "workflow", "list", "--query", "FlowState = 'Completed' AND WorkflowId = 'e2e-hook-args'")
	require.Contains(t, out, "e2e-hook-args")

	// flowstate run: the crash example, end to end.
	out, err = d.flowstate(t, "run", "crashing-flow", "--id", "e2e-crash")
	require.Error(t, err, "a crashed flow run is a failed command")
	require.Contains(t, out, `task my-task-that-crashes#1  Crashed("panic: Crashing on purpose!")`)
	require.Contains(t, out, "hook on_crashed delete-cloud-run-job: completed")
	require.Contains(t, out, "flowstate run: flow run e2e-crash ended Crashed: panic: Crashing on purpose!\n")
	require.NotContains(t, out, "(type: ")

	d.stop(t)
}

// With --db-file, a flow whose task sleeps survives flowstate dev stopping: started again on the
// same file, the run finishes with its hooks run once.
func TestDevDBFileSurvivesRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "runs.db")
	port := freePort(t)
	d := startDev(t, port, "--db-file", db)
	d.temporal(t, "workflow", "start", "--type", "nap-flow", "--task-queue", "flowstate-examples",
		"--workflow-id", "e2e-nap", "--input", `{"seconds": 4}`)
	require.Eventually(t, func() bool {
		out, err := d.flowstate(t, "states", "e2e-nap")
		return err == nil && strings.Contains(out, "task nap#1")
	}, 20*time.Second, 200*time.Millisecond)
	d.stop(t)

	d = startDev(t, port, "--db-file", db)
	require.Contains(t, d.output(), "(reopened)")
	out := d.temporal(t, "workflow", "result", "--workflow-id", "e2e-nap")
	require.Contains(t, out, "COMPLETED")
	require.Contains(t, out, "slept 4s")
	out, err := d.flowstate(t, "states", "e2e-nap")
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(out, "hook on_completion woke-up: completed"), out)
	d.stop(t)
}

// The demo runs every example, the nap cancelled mid-task, and exits 0.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowstateBin(t), "demo")
	cmd.Env = append(os.Environ(), "FLOWSTATE_EXAMPLES_DIR="+t.TempDir(), "FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK=")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("$ flowstate demo   (%s)\n%s", time.Since(t0).Round(time.Millisecond), out)
	require.NoError(t, err)
	require.Contains(t, string(out), "all 6 examples behaved as expected")
	require.NotContains(t, string(out), "SPEC")
	require.Contains(t, string(out), "on_cancellation: flow run demo-nap-")
	require.Contains(t, string(out), "Your job demo-slack-notify-")
	require.Contains(t, string(out), "on_crashed: deleted job")
	require.Equal(t, 3, strings.Count(string(out), "hook on_running record-start-time: completed"))
	require.Contains(t, string(out), `my-hook saw x="foo" y=42 state=Failed("meh")`)
}

// `flowstate dev --no-examples` serves the Temporal server alone: no worker, no crash sweeper. A
// `flowstate worker` of its own process then runs the examples there, logging in the same slog
// format as dev, without SDK debug lines, and stops on Ctrl-C without an error.
func TestDevNoExamples(t *testing.T) {
	d := startDev(t, freePort(t), "--no-examples")
	require.Contains(t, d.output(), "Server only (--no-examples): no worker runs here.")
	require.NotContains(t, d.output(), "worker on task queue")
	require.NotContains(t, d.temporal(t, "workflow", "list"), "flowstate-sweeper", "no worker, no sweeper")

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w := exec.CommandContext(ctx, flowstateBin(t), "worker")
	w.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+d.addr, "TEMPORAL_NAMESPACE=default", "FLOWSTATE_LOG_LEVEL=",
		"FLOWSTATE_EXAMPLES_DIR="+t.TempDir())
	var stdout, stderr workerproc.Buffer
	w.Stdout, w.Stderr = &stdout, &stderr
	require.NoError(t, w.Start())
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "worker on task queue flowstate-examples") },
		30*time.Second, 100*time.Millisecond, "the worker did not start:\n%s%s", stdout.String(), stderr.String())

	out, err := d.flowstate(t, "run", "task-start-flow", "--id", "no-examples-run")
	require.Error(t, err, "the flow fails on purpose")
	require.Equal(t, 3, strings.Count(out, "hook on_running record-start-time: completed"), out)
	require.Contains(t, out, "flowstate run: flow run no-examples-run ended Failed: attempt 3 failed")
	require.Contains(t, d.temporal(t, "workflow", "list"), "flowstate-crash-sweeper", "the worker started the namespace's crash sweeper")

	require.NoError(t, w.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		require.NoError(t, err, "%s%s", stdout.String(), stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("flowstate worker did not stop on Ctrl-C:\n%s%s", stdout.String(), stderr.String())
	}
	t.Logf("$ flowstate worker\n%s%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "✓ worker stopped")
	logs := strings.TrimSpace(stderr.String())
	require.Contains(t, logs, `msg="hook effect" example=task-start`)
	for _, line := range strings.Split(logs, "\n") {
		require.Regexp(t, `^time=\S+ level=(INFO|WARN) msg=`, line, "one slog format, from info up, no error")
	}
	d.stop(t)
}
