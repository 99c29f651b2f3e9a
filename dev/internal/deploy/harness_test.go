package deploy_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/deploy/deployflows"
)

// wait bounds every wait for something a correct system does within seconds; running into it
// fails the test with what was awaited.
const wait = 2 * time.Minute

// proc is a worker process.
type proc struct {
	version string
	cmd     *exec.Cmd
	pid     int
	log     *syncBuffer
	done    chan struct{}
	err     error // Wait's result, once done is closed
}

// startWorker starts a worker process with the definitions of version for queue, its hooks
// writing into dir, and waits until it polls for workflow and activity tasks.
func startWorker(t *testing.T, c client.Client, version, queue, dir string) *proc {
	t.Helper()
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+server.HostPort(), "TEMPORAL_NAMESPACE="+server.Namespace(),
		"TEMPORAL_PROFILE=", "TEMPORAL_API_KEY=", "TEMPORAL_TLS=",
		chaosflows.EnvQueue+"="+queue, chaosflows.EnvDir+"="+dir, deployflows.EnvVersion+"="+version)
	p := &proc{version: version, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	require.NoError(t, cmd.Start())
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of worker %s (pid %d):\n%s", p.version, p.pid, tail(p.log.String(), 60))
		}
	})
	identity := chaosflows.Identity(p.pid)
	until(t, fmt.Sprintf("worker %s (pid %d) polls", version, p.pid), func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("worker exited: %v\n%s", p.err, p.log.String())
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
	return p
}

// kill SIGKILLs the process, if it still runs, and reaps it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// until polls cond until it holds, failing the test when cond errs or after wait.
func until(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, err := cond()
		require.NoError(t, err, "waiting for %s", what)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "gave up waiting", "waiting for %s (%s)", what, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the writes of a process and the reads of a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func (tb *table) print(w io.Writer) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", tb.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tb.header, "\t"))
	for _, r := range tb.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

func (tb *table) String() string {
	var b strings.Builder
	tb.print(&b)
	return b.String()
}
