package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// fanOut is the input of the fan-out flows: Tasks tasks, submitted in batches of Batch.
type fanOut struct {
	Tasks int `json:"tasks"`
	Batch int `json:"batch"`
}

// The fan-out, with flowstate and with the SDK alone.
func fanOutFlow(task *adapter.Task[int, int], opts adapter.FlowOptions) *adapter.Flow[fanOut, int] {
	return adapter.NewFlow("fan-out", func(ctx workflow.Context, in fanOut) (int, error) {
		sum := 0
		for start := 0; start < in.Tasks; start += in.Batch {
			var futures []*adapter.Future[int]
			for i := start; i < min(start+in.Batch, in.Tasks); i++ {
				futures = append(futures, task.Submit(ctx, i))
			}
			for _, f := range futures {
				n, err := f.Get(ctx)
				if err != nil {
					return 0, err
				}
				sum += n
			}
		}
		return sum, nil
	}, opts)
}

func rawFanOut(ctx workflow.Context, in fanOut) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	sum := 0
	for start := 0; start < in.Tasks; start += in.Batch {
		var futures []workflow.Future
		for i := start; i < min(start+in.Batch, in.Tasks); i++ {
			futures = append(futures, workflow.ExecuteActivity(ctx, "raw-item", i))
		}
		for _, f := range futures {
			var n int
			if err := f.Get(ctx, &n); err != nil {
				return 0, err
			}
			sum += n
		}
	}
	return sum, nil
}

func item(_ context.Context, n int) (int, error) { return n, nil }

// A flow of 10,000 tasks with a flow hook completes; its whole state history (three states a task,
// the flow's, the hook's) is readable open and closed, a page at a time, and the closed run's memo
// stays within Temporal's limits, saying what it leaves out.
func TestTenThousandTasks(t *testing.T) {
	t.Parallel()
	const n = 10000
	done := hooks.NewFlowHook("large-done", func(context.Context, hooks.FlowCall) error { return nil })
	task := adapter.NewTask("large-item", item)
	f := fanOutFlow(task, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{done}})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{task}})
	started := time.Now()
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, fanOut{Tasks: n, Batch: 500})
	require.NoError(t, err)
	sum, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, n*(n-1)/2, sum)
	t.Logf("%d tasks in %s", n, time.Since(started).Round(time.Millisecond))

	want := 3 + 3*n + 1 // the flow's Scheduled, Running, Completed; each task's Pending, Running, Completed; the hook
	// The query pages: the first page says how many there are and where the next starts.
	v, err := c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), adapter.QueryType)
	require.NoError(t, err)
	var first hooks.History
	require.NoError(t, v.Get(&first))
	require.Equal(t, want, first.Total)
	require.Positive(t, first.Next, "the first page is not all of it")
	require.Less(t, len(first.Entries), want)
	v, err = c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), adapter.QueryType, hooks.PageRequest{After: first.Next})
	require.NoError(t, err)
	var second hooks.History
	require.NoError(t, v.Get(&second))
	require.Equal(t, first.Next+1, second.Entries[0].Seq, "the next page starts after the first")

	// The memo keeps what fits and counts the rest.
	desc, err := c.DescribeWorkflowExecution(t.Context(), run.ID(), run.RunID())
	require.NoError(t, err)
	memoBytes := proto.Size(desc.GetWorkflowExecutionInfo().GetMemo())
	require.Less(t, memoBytes, 2<<20, "the memo stays under Temporal's 2 MiB")
	memo, err := adapter.ReadHistoryMemo(desc.GetWorkflowExecutionInfo().GetMemo())
	require.NoError(t, err)
	require.Positive(t, memo.Omitted, "the memo says what it leaves out")
	require.Equal(t, want, memo.Total)
	require.Equal(t, want, len(memo.Entries)+memo.Omitted)
	require.Positive(t, memo.Summary["task Completed"])
	require.Contains(t, memo.Timeline(), "more entries")

	// ReadHistory reads every entry, from the memo and the query's pages.
	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), run.RunID())
	require.NoError(t, err)
	require.Len(t, h.Entries, want)
	require.Zero(t, h.Omitted)
	for i, e := range h.Entries {
		require.Equal(t, i+1, e.Seq)
	}
	require.Len(t, h.TaskRuns(), n)
	require.Equal(t, hooks.HookCompleted, h.Hooks()[0].Status)
	t.Logf("memo %d bytes: %d entries kept, %d counted", memoBytes, len(memo.Entries), memo.Omitted)
}

// historySize is what one run costs in history and memo. Workflow task events are counted apart:
// how many workflow tasks a fan-out takes depends on how its activities' completions happen to
// be batched, with or without flowstate.
type historySize struct {
	events, bytes, memo int
	// wft counts the WorkflowTaskScheduled, Started and Completed events, wftBytes their bytes;
	// memoEvents is the bytes of the memo's events (WorkflowPropertiesModified), bounded by the
	// memo's bound.
	wft, wftBytes, memoEvents int
}

// perTaskBytes is the history bytes the run costs apart from its workflow tasks and memo.
func (s historySize) perTaskBytes() int { return s.bytes - s.wftBytes - s.memoEvents }

func measure(t *testing.T, c client.Client, id string) historySize {
	t.Helper()
	var s historySize
	it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		s.events++
		s.bytes += proto.Size(e)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			s.wft++
			s.wftBytes += proto.Size(e)
		case enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			s.memoEvents += proto.Size(e)
		}
	}
	desc, err := c.DescribeWorkflowExecution(t.Context(), id, "")
	require.NoError(t, err)
	s.memo = proto.Size(desc.GetWorkflowExecutionInfo().GetMemo())
	return s
}

// The history and memo of a flow grow linearly with its tasks, at a constant cost a task: the
// table compares a plain workflow fanning out activities with the same flow, at 10, 100, 1,000
// and 10,000 tasks.
func TestHistoryGrowsLinearly(t *testing.T) {
	t.Parallel()
	task := adapter.NewTask("size-item", item)
	f := fanOutFlow(task, adapter.FlowOptions{})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{task}})
	rawTQ := tq + "-raw"
	w := sdkworker.New(c, rawTQ, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(rawFanOut, workflow.RegisterOptions{Name: "raw-fan-out"})
	w.RegisterActivityWithOptions(item, activity.RegisterOptions{Name: "raw-item"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	var table strings.Builder
	fmt.Fprintf(&table, "%8s | %10s %12s %10s | %10s %12s %10s | %12s %12s\n", "tasks", "raw events", "raw bytes", "raw memo",
		"fs events", "fs bytes", "fs memo", "Δevents/task", "Δbytes/task")
	fmt.Fprintf(&table, "(Δ: flowstate minus raw, apart from workflow task events, whose number depends on how completions are batched,\n"+
		" and the memo, bounded: it keeps the state history up to %d KiB and counts the rest)\n", 512)
	var perTask []float64
	for _, n := range []int{10, 100, 1000, 10000} {
		in := fanOut{Tasks: n, Batch: 500}
		rawRun, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: rawTQ}, "raw-fan-out", in)
		require.NoError(t, err)
		require.NoError(t, rawRun.Get(t.Context(), nil))
		run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, in)
		require.NoError(t, err)
		_, err = run.Get(t.Context())
		require.NoError(t, err)
		raw, fs := measure(t, c, rawRun.GetID()), measure(t, c, run.ID())
		require.Less(t, fs.memo, 1<<20, "the memo stays bounded")
		dEvents := float64((fs.events-fs.wft)-(raw.events-raw.wft)) / float64(n)
		dBytes := float64(fs.perTaskBytes()-raw.perTaskBytes()) / float64(n)
		perTask = append(perTask, dBytes)
		fmt.Fprintf(&table, "%8d | %10d %12d %10d | %10d %12d %10d | %12.2f %12.1f\n", n, raw.events, raw.bytes, raw.memo,
			fs.events, fs.bytes, fs.memo, dEvents, dBytes)
		require.Equal(t, raw.events-raw.wft+2, fs.events-fs.wft, "a flow without hooks costs raw + 2 events, workflow tasks aside")
	}
	t.Logf("history and memo per flow, raw Temporal and flowstate (no hooks):\n%s", table.String())
	// Constant per task: the extra bytes a task costs are the same at 100, 1,000 and 10,000 tasks,
	// within a few bytes (task run IDs grow a digit).
	require.InDelta(t, perTask[1], perTask[3], 8, "flowstate's cost per task is constant")
	require.InDelta(t, perTask[2], perTask[3], 8, "flowstate's cost per task is constant")
	if dir := os.Getenv("FLOWSTATE_REPORT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "history-sizes.txt"), []byte(table.String()), 0o644))
	}
}
