// Package workerproc starts worker processes for the tests that kill them (the chaos and deploy
// tests), waits until they poll their task queue, and keeps their logs.
package workerproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Wait bounds every wait for something that a correct system does within seconds; running into
// it fails the test with what was awaited.
const Wait = 2 * time.Minute

// Proc is a worker process a test started.
type Proc struct {
	// PID is the process's pid; Log is what it wrote to its standard output and error.
	PID int
	Log *Buffer

	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// Start starts bin with the test binary's environment and env added.
func Start(t testing.TB, bin string, env []string) *Proc {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{cmd: cmd, Log: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	require.NoError(t, cmd.Start())
	p.PID = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// WaitPolls waits until the process, whose client identity is identity, polls queue for both
// workflow and activity tasks; it fails the test when the process exits first.
func (p *Proc) WaitPolls(t testing.TB, c client.Client, queue, identity string) {
	t.Helper()
	Until(t, fmt.Sprintf("worker pid %d polls %s", p.PID, queue), func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("worker exited: %v\n%s", p.err, p.Log.String())
		default:
		}
		for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := c.DescribeTaskQueue(t.Context(), queue, typ)
			if err != nil {
				return false, nil
			}
			found := false
			for _, poller := range resp.GetPollers() {
				found = found || poller.GetIdentity() == identity
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	})
}

// Kill SIGKILLs the process, if it still runs, and reaps it.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop sends SIGTERM, as a deploy does, and waits for the process to exit.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(Wait):
		require.FailNow(t, "worker did not exit after SIGTERM", "pid %d", p.PID)
	}
}

// Done is closed once the process exited; Err then returns how.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns the process's exit error, once Done is closed.
func (p *Proc) Err() error { return p.err }

// State says whether the process runs, or how it exited.
func (p *Proc) State() string {
	select {
	case <-p.done:
		return fmt.Sprintf("exited: %v", p.err)
	default:
		return "running"
	}
}

// Until polls cond until it holds, failing the test when cond errs or after Wait.
func Until(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		ok, err := cond()
		require.NoError(t, err, "waiting for %s", what)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "gave up waiting", "waiting for %s (%s)", what, Wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer safe for the writes of a process and the reads of a test.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n lines of s, saying how many it leaves out.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
