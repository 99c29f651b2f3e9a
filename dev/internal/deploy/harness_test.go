package deploy_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/deploy/deployflows"
	"github.com/flowstate/flowstate/dev/internal/workerproc"
)

// proc is a worker process.
type proc = workerproc.Proc

// startWorker starts a worker process with the definitions of version for queue, its hooks
// writing into dir, and waits until it polls for workflow and activity tasks.
func startWorker(t *testing.T, c client.Client, version, queue, dir string) *proc {
	t.Helper()
	p := workerproc.Start(t, workerBin, []string{
		"TEMPORAL_ADDRESS=" + server.HostPort(), "TEMPORAL_NAMESPACE=" + server.Namespace(),
		"TEMPORAL_PROFILE=", "TEMPORAL_API_KEY=", "TEMPORAL_TLS=",
		chaosflows.EnvQueue + "=" + queue, chaosflows.EnvDir + "=" + dir, deployflows.EnvVersion + "=" + version,
	})
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("log of worker %s (pid %d):\n%s", version, p.PID, workerproc.Tail(p.Log.String(), 60))
		}
	})
	p.WaitPolls(t, c, queue, chaosflows.Identity(p.PID))
	return p
}

// until polls cond until it holds, failing the test when cond errs or after workerproc.Wait.
func until(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	workerproc.Until(t, what, cond)
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
