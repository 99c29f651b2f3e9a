package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/dev/internal/replay"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
	"github.com/flowstate/flowstate/workflows"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }

// listSearchAttributes is the RPC of worker.New's start-up check.
const listSearchAttributes = "/temporal.api.operatorservice.v1.OperatorService/ListSearchAttributes"

// A worker whose start-up check of the FlowState search attribute fails (the server could not be
// asked: a network blip) takes over runs of both kinds — runs that keep FlowState, recorded by a
// worker that knew the attribute, and runs that keep none, recorded by a worker that did not —
// on a real server: each finishes with no failed workflow task, keeps what it decided when it
// started, and replays on that worker's definitions. So do the runs that worker starts, on a
// worker that knows the attribute.
func TestStartupCheckFailureKeepsEachRunsDecision(t *testing.T) {
	for _, tc := range []struct {
		name string
		defs replay.Defs
	}{
		{"no-hooks", replay.Defs{Task: adapter.TaskOptions{Retries: 1}}},
		{"hooks", replay.Defs{
			Flow: adapter.FlowOptions{OnRunning: []hooks.FlowHook{replay.FlowRunning}, OnCompletion: []hooks.FlowHook{replay.FlowDone}},
			Task: adapter.TaskOptions{Retries: 1, OnRunning: []hooks.TaskHook{replay.TaskRunning}, OnCompletion: []hooks.TaskHook{replay.TaskDone}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testStartupCheckFailure(t, tc.defs) })
	}
}

func testStartupCheckFailure(t *testing.T, defs replay.Defs) {
	srv := flowstatetest.Shared(t)
	c := srv.NewClient(t, client.Options{})
	var asked atomic.Int32
	failing := srv.NewClient(t, client.Options{ConnectionOptions: client.ConnectionOptions{
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(
			func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if method == listSearchAttributes {
					asked.Add(1)
					return status.Error(codes.Unavailable, "a network blip, on purpose")
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			})},
	}})
	tq := flowstatetest.TaskQueue(t)

	// w starts a worker on tq with the definitions, the search-attribute setting and the client
	// given; it returns the worker's start-up log.
	w := func(c client.Client, sa worker.SearchAttributeMode) (*worker.Worker, *syncBuffer) {
		log := &syncBuffer{}
		opts := replay.Build(defs)
		opts.SearchAttributes = sa
		opts.Logger = slog.New(slog.NewTextHandler(log, nil))
		wk, err := worker.New(c, tq, opts)
		require.NoError(t, err)
		replay.RegisterPlain(wk.Registry())
		require.NoError(t, wk.Start())
		return wk, log
	}
	type run struct {
		id, runID string
		keeps     bool // the run keeps FlowState
	}
	var runs []run
	startRuns := func(who string, wait bool, keepsByName bool) {
		from := len(runs)
		for _, byName := range []bool{false, true} {
			id := fmt.Sprintf("%s-%s-by-name-%v", tq, who, byName)
			opts := client.StartWorkflowOptions{ID: id, TaskQueue: tq}
			in := replay.Input{Wait: wait}
			var wr client.WorkflowRun
			var err error
			if byName {
				wr, err = c.ExecuteWorkflow(t.Context(), opts, replay.FlowName, in) // as the temporal CLI does
			} else {
				wr, err = adapter.StartFlow(t.Context(), c, opts, replay.FlowName, in)
			}
			require.NoError(t, err)
			runs = append(runs, run{id: id, runID: wr.GetRunID(), keeps: !byName || keepsByName})
		}
		for _, r := range runs[from:] {
			if wait {
				waitAtRest(t, c, r.id, r.runID)
			}
		}
	}

	// Runs in flight recorded by a worker whose check found FlowState, and by one that knew it
	// was not to be used.
	knew, knewLog := w(c, worker.SearchAttributesAuto)
	require.NotContains(t, knewLog.String(), "is not used", "the worker's check did not find FlowState")
	startRuns("knew", true, true)
	knew.Stop()
	didNot, _ := w(c, worker.SearchAttributesOff)
	startRuns("did-not-know", true, false)
	didNot.Stop()

	// A worker whose check fails takes them over, and starts runs of its own.
	blip, log := w(failing, worker.SearchAttributesAuto)
	require.NotZero(t, asked.Load(), "the worker did not check the search attribute")
	require.Contains(t, log.String(), "the server could not be asked", "the worker's start-up log:\n%s", log.String())
	for _, r := range runs {
		require.NoError(t, c.SignalWorkflow(t.Context(), r.id, r.runID, replay.SignalGo, nil))
	}
	startRuns("check-failed", false, false)
	for _, r := range runs[:6] {
		waitCompleted(t, c, r.id, r.runID)
	}
	// Runs in flight of the worker whose check failed, taken over by one that knows.
	startRuns("check-failed-open", true, false)
	blip.Stop()
	knows, _ := w(c, worker.SearchAttributesOn)
	defer knows.Stop()
	for _, r := range runs[6:] {
		require.NoError(t, c.SignalWorkflow(t.Context(), r.id, r.runID, replay.SignalGo, nil))
	}

	// Every run: completed, no failed workflow task, FlowState as it decided at its start; and
	// its history replays through flowstate on a worker whose check failed.
	r := newReplayerKnowing(t, replay.Build(defs), false)
	for _, run := range runs {
		waitCompleted(t, c, run.id, run.runID)
		h := fetchHistory(t, c, run.id, run.runID)
		for _, e := range h.GetEvents() {
			require.NotEqual(t, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, e.GetEventType(), "%s: %s", run.id,
				e.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage())
		}
		want := "(none)"
		if run.keeps {
			want = hooks.NameCompleted
		}
		require.Equal(t, want, flowState(t, c, run.id, run.runID), "%s: its FlowState search attribute", run.id)
		require.NoError(t, r.try(t, run.id+".json", h, quiet), "replaying %s", run.id)
		t.Logf("%s: completed, FlowState %s, no failed workflow task, replays on a worker whose check failed", run.id, want)
	}
}

// waitAtRest waits until a run waits for its signal: nothing pending, and its history unchanged
// for a second.
func waitAtRest(t *testing.T, c client.Client, id, runID string) {
	t.Helper()
	last, stable := -1, 0
	for deadline := time.Now().Add(time.Minute); stable < 5; time.Sleep(200 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "%s did not come to rest within a minute", id)
		desc, err := c.DescribeWorkflowExecution(t.Context(), id, runID)
		require.NoError(t, err)
		n := int(desc.GetWorkflowExecutionInfo().GetHistoryLength())
		if len(desc.GetPendingActivities()) == 0 && desc.GetPendingWorkflowTask() == nil && n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
	}
}

func waitCompleted(t *testing.T, c client.Client, id, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := c.GetWorkflow(ctx, id, runID).Get(ctx, nil)
	require.NoError(t, err, "%s", id)
}

func fetchHistory(t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(t.Context(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

// flowState returns the run's FlowState search attribute, "(none)" when it has none.
func flowState(t *testing.T, c client.Client, id, runID string) string {
	t.Helper()
	desc, err := c.DescribeWorkflowExecution(t.Context(), id, runID)
	require.NoError(t, err)
	p, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.SearchAttribute]
	if !ok {
		return "(none)"
	}
	var v string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
	return v
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
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
