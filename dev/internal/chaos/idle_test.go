package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
	"github.com/flowstate/flowstate/workflows"
)

// IdleWindowEnv names the environment variable giving how long TestIdleCost counts RPCs (a Go
// duration); BENCHMARKS.md's table is measured with 10m.
const IdleWindowEnv = "FLOWSTATE_IDLE_WINDOW"

// defaultIdleWindow keeps CI short.
const defaultIdleWindow = 90 * time.Second

// idleWarmUp is how long the count waits once the sweeper scans with every worker's flow types:
// past the minute when it scans at its short interval.
const idleWarmUp = 75 * time.Second

// Worker options of TestIdleCost: the defaults, which the bounds below follow.
const (
	idleInterval      = 10 * time.Second
	reconcileInterval = 10 * time.Minute
	checkEveryAtLeast = 4 * time.Minute // worker.sweeperCheckEvery less its jitter
)

var idleCrashed = hooks.NewFlowHook("idle.on_crashed", func(context.Context, hooks.FlowCall) error { return nil })

// idleFlow is a flow with an on_crashed hook, so that the workers run the crash sweeper.
var idleFlow = adapter.NewFlow("idle-flow", func(ctx workflow.Context, _ struct{}) (string, error) {
	return "", workflow.Sleep(ctx, time.Hour)
}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{idleCrashed}})

// TestIdleCost counts the RPCs that flowstate workers make while nothing runs and nothing
// crashes, with 1 and with 50 task queues (one worker each, in their own namespace of a server of
// their own), and prints them per minute. It does not run in parallel with the other tests: the
// start of 51 workers and a second server would slow the scenarios whose timing is tight.
func TestIdleCost(t *testing.T) {
	window := defaultIdleWindow
	if v := os.Getenv(IdleWindowEnv); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "%s=%q", IdleWindowEnv, v)
		window = d
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Namespaces: []string{"idle-1", "idle-50"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })

	for _, n := range []int{1, 50} {
		t.Run(fmt.Sprintf("%d queues", n), func(t *testing.T) {
			t.Parallel()
			m := measureIdle(t, srv, fmt.Sprintf("idle-%d", n), n, window)
			idleMu.Lock()
			idleResults = append(idleResults, m)
			idleMu.Unlock()
			t.Logf("\n%s", m.detail())

			// What does not grow with the queues, and what nothing idle needs.
			require.Equal(t, map[string]int{workflows.SweeperWorkflow: 1}, m.running, "one sweeper for the namespace, and nothing else running")
			require.Zero(t, m.sum("StartWorkflowExecution", "SignalWithStartWorkflowExecution", "SignalWorkflowExecution"), "no start or signal while idle")
			require.Zero(t, m.sum("RespondWorkflowTaskCompleted", "RespondWorkflowTaskFailed"), "no workflow task while idle")
			scans := int(window/idleInterval) + 1
			passes := int(window/reconcileInterval) + 1
			require.LessOrEqual(t, m.sum(idleColumns[0].methods...), scans+2*passes,
				"visibility queries: a trailing scan every %s, a reconciliation (and a look for old sweepers) every %s, whatever the queues", idleInterval, reconcileInterval)
			require.LessOrEqual(t, m.sum("DescribeWorkflowExecution"), n*(int(window/checkEveryAtLeast)+1), "each worker checks the sweeper every 5 minutes or so")
		})
	}
}

// idleMeasure is what one TestIdleCost setup counted.
type idleMeasure struct {
	queues  int
	window  time.Duration
	counts  map[string]int // RPCs by method, during the window
	running map[string]int // running workflows by type, at the end
}

func measureIdle(t *testing.T, srv *devserver.Server, ns string, n int, window time.Duration) idleMeasure {
	counter := &rpcCounter{counts: map[string]int{}}
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range n {
		c, err := srv.NewClient(t.Context(), client.Options{
			Namespace: ns, Logger: quiet,
			ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(counter.intercept)}},
		})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		w, err := worker.New(c, fmt.Sprintf("%s-q%02d", ns, i), worker.Options{
			Flows: []adapter.AnyFlow{idleFlow}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		require.NoError(t, err)
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop)
	}
	waitWatching(t, srv, ns, n)
	time.Sleep(idleWarmUp)
	before := counter.snapshot()
	time.Sleep(window)
	after := counter.snapshot()
	m := idleMeasure{queues: n, window: window, counts: map[string]int{}, running: map[string]int{}}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			m.counts[k] = d
		}
	}

	c, err := srv.NewClient(t.Context(), client.Options{Namespace: ns, Logger: quiet})
	require.NoError(t, err)
	defer c.Close()
	it, err := listAll(t.Context(), c, "ExecutionStatus = 'Running'")
	require.NoError(t, err)
	for _, e := range it {
		m.running[e]++
	}
	return m
}

// waitWatching waits until the sweeper of namespace ns scans with the flow types of n queues.
func waitWatching(t *testing.T, srv *devserver.Server, ns string, n int) {
	c, err := srv.NewClient(t.Context(), client.Options{Namespace: ns, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer c.Close()
	deadline := time.Now().Add(wait)
	for {
		desc, err := c.DescribeWorkflowExecution(t.Context(), workflows.SweeperWorkflowID(""), "")
		if err == nil && len(desc.GetPendingActivities()) == 1 && desc.GetPendingActivities()[0].GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
			var last workflows.SweepInput
			it := c.GetWorkflowHistory(t.Context(), workflows.SweeperWorkflowID(""), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				require.NoError(t, err)
				if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
					require.NoError(t, json.Unmarshal(a.GetInput().GetPayloads()[0].GetData(), &last))
				}
			}
			queues := 0
			for _, w := range last.Watch {
				queues += len(w.TaskQueues)
			}
			if queues == n {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "the sweeper of %s does not watch %d queues after %s", ns, n, wait)
		time.Sleep(time.Second)
	}
}

// listAll returns the workflow types of the executions the query lists.
func listAll(ctx context.Context, c client.Client, query string) ([]string, error) {
	var types []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			types = append(types, e.GetType().GetName())
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return types, nil
		}
	}
}

// rpcCounter counts the unary RPCs of the clients it intercepts, by method.
type rpcCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *rpcCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r.mu.Lock()
	r.counts[method[strings.LastIndex(method, "/")+1:]]++
	r.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (r *rpcCounter) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// idleColumns group RPC methods into the table's columns; the rest is "other".
var idleColumns = []struct {
	name    string
	methods []string
}{
	{"visibility queries", []string{"ListWorkflowExecutions", "CountWorkflowExecutions", "ScanWorkflowExecutions", "ListOpenWorkflowExecutions", "ListClosedWorkflowExecutions"}},
	{"workflow tasks", []string{"RespondWorkflowTaskCompleted", "RespondWorkflowTaskFailed"}},
	{"starts and signals", []string{"StartWorkflowExecution", "SignalWithStartWorkflowExecution", "SignalWorkflowExecution", "ExecuteMultiOperation"}},
	{"activity heartbeats", []string{"RecordActivityTaskHeartbeat", "RecordActivityTaskHeartbeatById"}},
	{"describes", []string{"DescribeWorkflowExecution", "DescribeTaskQueue", "DescribeNamespace"}},
	{"long polls", []string{"PollWorkflowTaskQueue", "PollActivityTaskQueue", "PollNexusTaskQueue"}},
}

// sum returns how many RPCs of the methods were made in the window.
func (m idleMeasure) sum(methods ...string) int {
	n := 0
	for _, k := range methods {
		n += m.counts[k]
	}
	return n
}

// perMinute returns the column's RPCs per minute.
func (m idleMeasure) perMinute(methods []string) float64 {
	n := 0
	for _, k := range methods {
		n += m.counts[k]
	}
	return float64(n) / m.window.Minutes()
}

// other returns the RPCs per minute of methods in no column, and their names.
func (m idleMeasure) other() (float64, []string) {
	known := map[string]bool{}
	for _, col := range idleColumns {
		for _, k := range col.methods {
			known[k] = true
		}
	}
	n := 0
	var names []string
	for k, v := range m.counts {
		if !known[k] {
			n += v
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return float64(n) / m.window.Minutes(), names
}

func (m idleMeasure) runningSummary() string {
	keys := make([]string, 0, len(m.running))
	for k := range m.running {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m.running[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (m idleMeasure) detail() string {
	keys := make([]string, 0, len(m.counts))
	for k := range m.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d queues, %s window; RPCs by method:\n", m.queues, m.window)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-40s %6d  (%.1f/min)\n", k, m.counts[k], float64(m.counts[k])/m.window.Minutes())
	}
	fmt.Fprintf(&b, "running workflows: %s\n", m.runningSummary())
	return b.String()
}

var (
	idleMu      sync.Mutex
	idleResults []idleMeasure
)

func printIdle(w io.Writer) {
	idleMu.Lock()
	defer idleMu.Unlock()
	if len(idleResults) == 0 {
		return
	}
	slices.SortFunc(idleResults, func(a, b idleMeasure) int { return a.queues - b.queues })
	fmt.Fprintf(w, "\nidle cost: RPCs per minute of all flowstate workers, nothing running (window %s)\n", idleResults[0].window)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "task queues\t"
	for _, col := range idleColumns {
		header += col.name + "\t"
	}
	fmt.Fprintln(tw, header+"other\trunning workflows\t")
	for _, m := range idleResults {
		line := fmt.Sprintf("%d\t", m.queues)
		for _, col := range idleColumns {
			line += fmt.Sprintf("%.1f\t", m.perMinute(col.methods))
		}
		o, names := m.other()
		line += fmt.Sprintf("%.1f %v\t%s\t", o, names, m.runningSummary())
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}
