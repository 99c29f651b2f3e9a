package scale_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/scale"
	"github.com/flowstate/flowstate/hooks"
)

// A sequential loop of 20,000 items that continues as new every 1,000 completes, with its hooks
// once for the whole chain; each run stays far from Temporal's history limits, and ReadHistory
// reads every item of every run.
func TestLongLoopContinuesAsNew(t *testing.T) {
	t.Parallel()
	started := time.Now()
	run, err := scale.LongLoop.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: scale.TaskQueue}, scale.Loop{Items: 20000, Per: 1000})
	require.NoError(t, err)
	var done int
	require.NoError(t, c.GetWorkflow(t.Context(), run.ID(), "").Get(t.Context(), &done))
	require.Equal(t, 20000, done)
	t.Logf("20,000 items in 20 runs: %s", time.Since(started).Round(time.Millisecond))

	last, err := c.DescribeWorkflowExecution(t.Context(), run.ID(), "")
	require.NoError(t, err)
	require.Less(t, last.GetWorkflowExecutionInfo().GetHistoryLength(), int64(10000), "a run of the chain stays short")
	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), "")
	require.NoError(t, err)
	require.Len(t, h.Runs, 20)
	require.Len(t, h.TaskRuns(), 20000, "every item of every run is in the history")
	require.Equal(t, hooks.NameCompleted, h.State.Name)
	var events []string
	for _, r := range h.Hooks() {
		events = append(events, string(r.Event)+":"+string(r.Status))
	}
	require.Equal(t, []string{"on_running:completed", "on_completion:completed"}, events, "the chain's hooks run once each")
}

// A flow of 10,000 tasks with a flow hook completes; its whole state history (three states a task,
// the flow's, the hook's) is readable open and closed: while it runs, a page at a time through the
// query; once closed, from its memo — a bounded plain field that says what it leaves out, and all
// of it compressed beside it — through ReadHistory and flowstate states, without the query (which
// on a closed run replays its whole history on a worker).
func TestTenThousandTasks(t *testing.T) {
	t.Parallel()
	const n = 10000
	started := time.Now()
	run, err := scale.FanOutHooked.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: scale.TaskQueue}, scale.FanOut{Tasks: n, Batch: 500})
	require.NoError(t, err)

	// While it runs, the query pages once the history passes a page (about 1 MiB): the first page
	// says how many entries there are and where the next starts.
	var first hooks.History
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), adapter.QueryType)
		if err != nil || v.Get(&first) != nil {
			return false
		}
		return first.Next > 0
	}, 10*time.Minute, time.Second, "the open run's history never needed a second page")
	require.Less(t, len(first.Entries), first.Total)
	v, err := c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), adapter.QueryType, hooks.PageRequest{After: first.Next})
	require.NoError(t, err)
	var second hooks.History
	require.NoError(t, v.Get(&second))
	require.Equal(t, first.Next+1, second.Entries[0].Seq, "the next page starts after the first")
	t.Logf("open run: first page %d of %d entries", len(first.Entries), first.Total)

	sum, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, n*(n-1)/2, sum)
	t.Logf("%d tasks in %s", n, time.Since(started).Round(time.Millisecond))
	want := 3 + 3*n + 1 // the flow's Scheduled, Running, Completed; each task's Pending, Running, Completed; the hook

	// The memo stays within Temporal's limits: its plain field keeps what fits and counts the rest;
	// the compressed field keeps every entry.
	desc, err := c.DescribeWorkflowExecution(t.Context(), run.ID(), run.RunID())
	require.NoError(t, err)
	memoPB := desc.GetWorkflowExecutionInfo().GetMemo()
	memoBytes := proto.Size(memoPB)
	require.Less(t, memoBytes, 2<<20, "the memo stays under Temporal's 2 MiB")
	var plain hooks.History
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(memoPB.GetFields()[adapter.MemoKey], &plain))
	require.Positive(t, plain.Omitted, "the plain field says what it leaves out")
	require.Equal(t, want, len(plain.Entries)+plain.Omitted)
	require.Positive(t, plain.Summary["task Completed"])
	require.Contains(t, plain.Timeline(), "more entries")
	memo, err := adapter.ReadHistoryMemo(memoPB)
	require.NoError(t, err)
	require.Len(t, memo.Entries, want, "the compressed field keeps every entry")
	t.Logf("memo %d bytes: plain field %d entries and %d counted; compressed field all %d", memoBytes, len(plain.Entries), plain.Omitted, want)

	// ReadHistory reads every entry.
	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), run.RunID())
	require.NoError(t, err)
	require.Len(t, h.Entries, want)
	require.Zero(t, h.Omitted)
	for i, e := range h.Entries {
		require.Equal(t, i+1, e.Seq)
	}
	require.Len(t, h.TaskRuns(), n)
	require.Equal(t, hooks.HookCompleted, h.Hooks()[0].Status)

	// So does flowstate states: a line an entry, and the flow's state first.
	cmd := exec.CommandContext(t.Context(), flowstate, "states", run.ID())
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+address, "TEMPORAL_NAMESPACE=default")
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 1+want, "a header and every entry")
	require.Contains(t, lines[0], "Completed")
	require.Contains(t, lines[len(lines)-1], "hook on_completion scale-fan-out-done: completed")
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

func measure(t *testing.T, id string) historySize {
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
	var table strings.Builder
	fmt.Fprintf(&table, "%8s | %10s %12s %10s | %10s %12s %10s | %12s %12s\n", "tasks", "raw events", "raw bytes", "raw memo",
		"fs events", "fs bytes", "fs memo", "Δevents/task", "Δbytes/task")
	var perTask []float64
	for _, n := range []int{10, 100, 1000, 10000} {
		in := scale.FanOut{Tasks: n, Batch: 500}
		rawRun, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: scale.TaskQueue}, scale.RawFanOutName, in)
		require.NoError(t, err)
		require.NoError(t, rawRun.Get(t.Context(), nil))
		run, err := scale.FanOutPlain.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: scale.TaskQueue}, in)
		require.NoError(t, err)
		_, err = run.Get(t.Context())
		require.NoError(t, err)
		raw, fs := measure(t, rawRun.GetID()), measure(t, run.ID())
		require.Less(t, fs.memo, 1<<20, "the memo stays bounded")
		dEvents := float64((fs.events-fs.wft)-(raw.events-raw.wft)) / float64(n)
		dBytes := float64(fs.perTaskBytes()-raw.perTaskBytes()) / float64(n)
		perTask = append(perTask, dBytes)
		fmt.Fprintf(&table, "%8d | %10d %12d %10d | %10d %12d %10d | %12.2f %12.1f\n", n, raw.events, raw.bytes, raw.memo,
			fs.events, fs.bytes, fs.memo, dEvents, dBytes)
		require.Equal(t, raw.events-raw.wft+2, fs.events-fs.wft, "a flow without hooks costs raw + 2 events, workflow tasks aside")
	}
	fmt.Fprintf(&table, "Δ: flowstate minus raw a task, apart from workflow task events (their number depends on how\n"+
		"completions are batched) and the memo (bounded: 448 KiB of plain state history, 448 KiB compressed)\n")
	t.Logf("history and memo per flow, raw Temporal and flowstate (no hooks):\n%s", table.String())
	// Constant per task: the extra bytes a task costs are the same at 100, 1,000 and 10,000 tasks,
	// within a few bytes (task run IDs grow a digit).
	require.InDelta(t, perTask[1], perTask[3], 8, "flowstate's cost per task is constant")
	require.InDelta(t, perTask[2], perTask[3], 8, "flowstate's cost per task is constant")
	if dir := os.Getenv("FLOWSTATE_REPORT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "history-sizes.txt"), []byte(table.String()), 0o644))
	}
}
