package activities

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flowstate/flowstate/workflows"
)

// fakeTemporal is a namespace as the sweep sees it: a visibility store that lists a record only
// from its visibleAt on (late, when the test says so), in an order of its own (not by close
// time), a few records per page, and forgets records older than the retention period; crash
// handlers that the reuse and conflict policies the sweep asks for accept once; and pollers.
type fakeTemporal struct {
	mu       sync.Mutex
	now      time.Time
	pageSize int
	keep     time.Duration // the retention period
	records  []*fakeRecord
	live     map[string]bool
	// failStart, when it returns an error, fails a handler's start (a passing failure).
	failStart func(dead workflows.CrashedRun) error
	// handlerLag is how late the visibility store lists a handler.
	handlerLag time.Duration

	starts     map[string]int // accepted handler starts, by handler ID
	queries    []string
	terminated []string
}

type fakeRecord struct {
	info      *workflowpb.WorkflowExecutionInfo
	visibleAt time.Time
	input     workflows.CrashedRun // for handlers
}

func newFake(start time.Time) *fakeTemporal {
	return &fakeTemporal{now: start, pageSize: 2, keep: 24 * time.Hour, live: map[string]bool{}, starts: map[string]int{}}
}

func (f *fakeTemporal) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTemporal) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// crash adds a flow run that closed as status at closed, listed lag after it.
func (f *fakeTemporal) crash(id, flowType, queue string, status enumspb.WorkflowExecutionStatus, closed time.Time, lag time.Duration) workflows.CrashedRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
		Type:      &commonpb.WorkflowType{Name: flowType},
		TaskQueue: queue,
		Status:    status,
		StartTime: timestamppb.New(closed.Add(-time.Minute)),
		CloseTime: timestamppb.New(closed),
	}
	f.records = append(f.records, &fakeRecord{info: info, visibleAt: closed.Add(lag)})
	return deadRun(info)
}

func (f *fakeTemporal) list(_ context.Context, q query, token []byte) ([]*workflowpb.WorkflowExecutionInfo, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q.String())
	var all []*workflowpb.WorkflowExecutionInfo
	for _, r := range f.records {
		closed := r.info.GetCloseTime()
		if r.visibleAt.After(f.now) || (closed != nil && closed.AsTime().Before(f.now.Add(-f.keep))) {
			continue
		}
		if q.match(r.info) {
			all = append(all, r.info)
		}
	}
	// An order that is not the close times': by a hash of the run ID.
	sort.Slice(all, func(i, j int) bool {
		return hash(all[i].GetExecution().GetRunId()) < hash(all[j].GetExecution().GetRunId())
	})
	offset := 0
	if len(token) > 0 {
		offset, _ = strconv.Atoi(string(token))
	}
	end := min(offset+f.pageSize, len(all))
	if offset >= len(all) {
		return nil, nil, nil
	}
	var next []byte
	if end < len(all) {
		next = []byte(strconv.Itoa(end))
	}
	return all[offset:end], next, nil
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func (f *fakeTemporal) startHandler(_ context.Context, opts client.StartWorkflowOptions, dead workflows.CrashedRun) error {
	if f.failStart != nil {
		if err := f.failStart(dead); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY ||
		opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		return serviceerror.NewInvalidArgument("the sweep must start handlers with the contract's policies")
	}
	if opts.ID != workflows.CrashHandlerID(dead.WorkflowID, dead.RunID) || opts.TaskQueue != dead.TaskQueue {
		return serviceerror.NewInvalidArgument("wrong handler ID or queue")
	}
	for _, r := range f.records {
		if r.info.GetExecution().GetWorkflowId() != opts.ID {
			continue
		}
		switch r.info.GetStatus() {
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return nil // USE_EXISTING: the running handler is the answer
		case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			return serviceerror.NewWorkflowExecutionAlreadyStarted("handled already", "", "")
		}
	}
	f.starts[opts.ID]++
	f.records = append(f.records, &fakeRecord{
		info: &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: opts.ID, RunId: fmt.Sprintf("handler-%d", len(f.records))},
			Type:      &commonpb.WorkflowType{Name: workflows.CrashHandlerWorkflow},
			TaskQueue: opts.TaskQueue,
			Status:    enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			StartTime: timestamppb.New(f.now),
		},
		visibleAt: f.now.Add(f.handlerLag),
		input:     dead,
	})
	return nil
}

// finishHandlers closes the handlers that run with status.
func (f *fakeTemporal) finishHandlers(status enumspb.WorkflowExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.records {
		if r.info.GetType().GetName() == workflows.CrashHandlerWorkflow && r.info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			r.info.Status = status
			r.info.CloseTime = timestamppb.New(f.now)
		}
	}
}

func (f *fakeTemporal) retention(context.Context) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keep, nil
}

func (f *fakeTemporal) pollers(context.Context, string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for k, v := range f.live {
		out[k] = v
	}
	return out, nil
}

func (f *fakeTemporal) terminate(_ context.Context, workflowID, runID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, workflowID)
	for _, r := range f.records {
		if r.info.GetExecution().GetRunId() == runID {
			r.info.Status = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
			r.info.CloseTime = timestamppb.New(f.now)
		}
	}
	return nil
}

// handled returns how many handlers were started for each of runs.
func (f *fakeTemporal) handled(runs ...workflows.CrashedRun) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(runs))
	for i, r := range runs {
		out[i] = f.starts[workflows.CrashHandlerID(r.WorkflowID, r.RunID)]
	}
	return out
}

// sweep is a scanner over a fake namespace, with what it found by which pass.
type sweep struct {
	*scanner
	f     *fakeTemporal
	found map[string]string // run ID → pass that started its handler
	when  map[string]time.Time
}

func newSweep(f *fakeTemporal, opts workflows.SweepOptions, watch []workflows.Watch, state workflows.SweepState) *sweep {
	if opts.Interval == 0 {
		opts = workflows.SweepOptions{Interval: time.Second, IdleInterval: 10 * time.Second, ReconcileInterval: 10 * time.Minute, Lookback: opts.Lookback}
	}
	sc := newScanner(f, log.NewStructuredLogger(slog.New(slog.DiscardHandler)), f.clock, workflows.SweepInput{Options: opts, Watch: watch}, state)
	s := &sweep{scanner: sc, f: f, found: map[string]string{}, when: map[string]time.Time{}}
	sc.started = func(dead workflows.CrashedRun, pass string) {
		s.found[dead.RunID] = pass
		s.when[dead.RunID] = f.clock()
	}
	return s
}

// run makes a pass every step for d, as the sweep activity does (its interval aside).
func (s *sweep) run(t *testing.T, d, step time.Duration) {
	t.Helper()
	end := s.f.clock().Add(d)
	for s.f.clock().Before(end) {
		_, res := s.pass(t.Context())
		require.Nil(t, res, "no registered worker to be gone")
		s.f.advance(step)
	}
}

var (
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	watch = []workflows.Watch{{TaskQueues: []string{"q1"}, FlowTypes: []string{"X"}}}
)

const terminated, timedOut = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT

// Runs the visibility store lists minutes late are handled, by the reconciliation when the
// trailing scan had moved past them; each once.
func TestSweepHandlesRunsListedLate(t *testing.T) {
	f := newFake(t0)
	s := newSweep(f, workflows.SweepOptions{}, watch, workflows.SweepState{})
	var runs []workflows.CrashedRun
	runs = append(runs, f.crash("prompt-1", "X", "q1", terminated, t0.Add(10*time.Second), time.Second))
	late := f.crash("late-5m", "X", "q1", terminated, t0.Add(20*time.Second), 5*time.Minute)
	later := f.crash("late-13m", "X", "q1", timedOut, t0.Add(25*time.Second), 13*time.Minute)
	runs = append(runs, f.crash("prompt-2", "X", "q1", timedOut, t0.Add(3*time.Minute), time.Second))
	runs = append(runs, f.crash("prompt-3", "X", "q1", terminated, t0.Add(9*time.Minute), time.Second))
	hours := f.crash("late-3h", "X", "q1", terminated, t0.Add(40*time.Second), 3*time.Hour)

	s.run(t, 30*time.Minute, time.Second)
	require.Equal(t, []int{1, 1, 1, 1, 1, 0}, f.handled(append(runs, late, later, hours)...), "each run's handler started once")
	s.run(t, 6*time.Hour, 10*time.Second)
	require.Equal(t, 1, f.handled(hours)[0], "listed after the last hour's passes: found by the pass over the retention")
	require.Equal(t, t0.Add(6*time.Hour), s.when[hours.RunID])
	for _, r := range runs {
		require.Equal(t, "trailing", s.found[r.RunID], r.WorkflowID)
		require.Less(t, s.when[r.RunID].Sub(r.CloseTime), 3*time.Second, "%s: found by the trailing scan within its lag and a scan", r.WorkflowID)
	}
	require.Equal(t, "reconcile", s.found[late.RunID], "listed after the cursor moved past it")
	require.Equal(t, t0.Add(10*time.Minute), s.when[late.RunID], "the reconciliation after it was listed")
	require.Equal(t, "reconcile", s.found[later.RunID])
	require.Equal(t, t0.Add(20*time.Minute), s.when[later.RunID])
	require.Equal(t, t0.Add(9*time.Minute), s.state.Cursor)
}

// Listings come in pages, in no particular order; a handler that fails to start for a passing
// reason keeps the cursor, so that it is tried again, and holds no other run back.
func TestSweepListsOutOfOrderAcrossPages(t *testing.T) {
	f := newFake(t0)
	s := newSweep(f, workflows.SweepOptions{}, watch, workflows.SweepState{ReconcileAt: t0.Add(time.Hour)})
	var runs []workflows.CrashedRun
	for i := range 9 {
		runs = append(runs, f.crash(fmt.Sprintf("run-%d", i), "X", "q1", terminated, t0.Add(time.Duration(9-i)*time.Second), 0))
	}
	failures := 2
	f.failStart = func(dead workflows.CrashedRun) error {
		if dead.WorkflowID == "run-4" && failures > 0 {
			failures--
			return serviceerror.NewUnavailable("the frontend is restarting")
		}
		return nil
	}
	f.advance(10 * time.Second)

	_, _ = s.pass(t.Context())
	require.Equal(t, []int{1, 1, 1, 1, 0, 1, 1, 1, 1}, f.handled(runs...), "every other run on every page is handled")
	require.Equal(t, t0.Add(-time.Minute), s.state.Cursor.Add(-10*time.Second), "the cursor stays where it was while a start fails")
	_, _ = s.pass(t.Context())
	_, _ = s.pass(t.Context())
	require.Equal(t, []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, f.handled(runs...), "each once")
	require.Equal(t, t0.Add(9*time.Second), s.state.Cursor, "the latest close time, once all started")
	pages := 0
	for _, q := range f.queries {
		if q == f.queries[0] {
			pages++
		}
	}
	require.GreaterOrEqual(t, pages, 5, "9 runs, 2 a page: %v", f.queries)
}

// A rolling deploy: the watch holds what every live worker registered, not what the scanning
// worker runs. A flow type that joins the watch later has its older runs reconciled at once.
func TestSweepWatchesWhatOtherWorkersRun(t *testing.T) {
	f := newFake(t0)
	// Worker B registered Y on q2 an hour after its runs began to crash: the workflow passes the
	// new pair for reconciliation with the grown watch.
	grown := []workflows.Watch{{TaskQueues: []string{"q1"}, FlowTypes: []string{"X"}}, {TaskQueues: []string{"q2"}, FlowTypes: []string{"X", "Y"}}}
	added := []workflows.Watch{{TaskQueues: []string{"q2"}, FlowTypes: []string{"X", "Y"}}}
	before := f.crash("y-before-b", "Y", "q2", terminated, t0.Add(-time.Hour), time.Second)
	f.advance(time.Second)
	s := newSweep(f, workflows.SweepOptions{}, grown, workflows.SweepState{Cursor: t0, ReconcileAt: t0.Add(time.Hour), Reconcile: added})
	y := f.crash("y", "Y", "q2", terminated, t0.Add(5*time.Second), time.Second)
	x := f.crash("x", "X", "q1", terminated, t0.Add(6*time.Second), time.Second)
	otherQueue := f.crash("y-elsewhere", "Y", "q3", terminated, t0.Add(7*time.Second), time.Second)
	notAFlow := f.crash("z", "Z", "q2", terminated, t0.Add(8*time.Second), time.Second)

	s.run(t, time.Minute, time.Second)

	require.Equal(t, []int{1, 1, 1, 0, 0}, f.handled(before, y, x, otherQueue, notAFlow))
	require.Equal(t, "reconcile", s.found[before.RunID])
	require.Equal(t, "trailing", s.found[y.RunID])
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.records {
		if r.info.GetType().GetName() == workflows.CrashHandlerWorkflow {
			require.Equal(t, r.input.TaskQueue, r.info.GetTaskQueue(), "a handler runs on its dead run's queue")
		}
	}
	require.Contains(t, f.queries[len(f.queries)-1], "(TaskQueue = 'q2' AND WorkflowType IN ('X', 'Y'))", "the watch is in the query")
}

// An outage longer than the look-back: a sweep that resumes from its heartbeat handles every run
// since its cursor, however long ago; a sweeper started afresh (its state lost) reconciles the
// look-back period, the namespace's retention, beyond which the server keeps no run.
func TestSweepAfterAnOutageLongerThanTheLookback(t *testing.T) {
	t.Run("resumed", func(t *testing.T) {
		f := newFake(t0)
		s := newSweep(f, workflows.SweepOptions{Lookback: time.Hour}, watch, workflows.SweepState{})
		s.run(t, time.Minute, time.Second)
		cursor := s.state
		early := f.crash("early", "X", "q1", terminated, t0.Add(2*time.Minute), time.Second)
		late := f.crash("late", "X", "q1", timedOut, t0.Add(3*time.Hour), time.Second)
		f.advance(3*time.Hour + time.Minute) // no worker for three hours

		resumed := newSweep(f, workflows.SweepOptions{Lookback: time.Hour}, watch, cursor)
		resumed.run(t, 10*time.Second, time.Second)
		require.Equal(t, []int{1, 1}, f.handled(early, late))
		require.Equal(t, "trailing", resumed.found[early.RunID], "from the cursor, not the look-back")
	})
	t.Run("afresh", func(t *testing.T) {
		f := newFake(t0)
		f.keep = 6 * time.Hour
		early := f.crash("early", "X", "q1", terminated, t0.Add(2*time.Minute), time.Second)
		expired := f.crash("expired", "X", "q1", terminated, t0.Add(-7*time.Hour), time.Second)
		f.advance(3 * time.Hour)

		s := newSweep(f, workflows.SweepOptions{}, watch, workflows.SweepState{})
		s.run(t, 10*time.Second, time.Second)
		require.Equal(t, []int{1, 0}, f.handled(early, expired), "the server no longer lists a run past its retention")
		require.Equal(t, "reconcile", s.found[early.RunID])
	})
}

// The reconciliation starts again the handlers that did not complete (an operator terminated them,
// say), and leaves those that completed or run.
func TestSweepRestartsHandlersThatDidNotComplete(t *testing.T) {
	f := newFake(t0)
	f.handlerLag = 2 * time.Second
	a := f.crash("a", "X", "q1", terminated, t0.Add(time.Second), 0)
	s := newSweep(f, workflows.SweepOptions{}, watch, workflows.SweepState{})
	s.run(t, 5*time.Second, time.Second)
	require.Equal(t, []int{1}, f.handled(a))

	f.finishHandlers(terminated)
	b := f.crash("b", "X", "q1", terminated, t0.Add(20*time.Second), 0)
	s.run(t, 10*time.Minute, time.Second)
	require.Equal(t, []int{2, 1}, f.handled(a, b), "a's terminated handler started again; b's runs")

	f.finishHandlers(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	s.run(t, 20*time.Minute, time.Second)
	require.Equal(t, []int{2, 1}, f.handled(a, b), "completed handlers are left alone")
}

// The reconciliation terminates the per-queue sweepers of flowstate v0.2 that still run, and
// reports the registered workers missing from the pollers at two checks SweeperForgetAfter apart.
func TestSweepEndsOldSweepersAndNoticesGoneWorkers(t *testing.T) {
	f := newFake(t0)
	f.mu.Lock()
	f.records = append(f.records, &fakeRecord{info: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflows.LegacySweeperWorkflowID("old-queue"), RunId: "old"},
		Type:      &commonpb.WorkflowType{Name: workflows.LegacySweeperWorkflow},
		TaskQueue: "old-queue", Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, StartTime: timestamppb.New(t0.Add(-time.Hour)),
	}})
	f.live["a"], f.live["b"] = true, true
	f.mu.Unlock()
	s := newSweep(f, workflows.SweepOptions{}, watch, workflows.SweepState{})
	s.workers = []workflows.SweeperWorker{{Identity: "a", Registered: t0.Add(-time.Hour)}, {Identity: "b", Registered: t0.Add(-time.Hour)}}

	_, res := s.pass(t.Context())
	require.Nil(t, res, "both poll")
	require.Equal(t, []string{workflows.LegacySweeperWorkflowID("old-queue")}, f.terminated)

	f.mu.Lock()
	delete(f.live, "b") // b stops
	f.mu.Unlock()
	var gone *workflows.SweepResult
	for range 30 {
		f.advance(time.Minute)
		s.state.ReconcileAt = s.f.clock() // a check every minute
		if _, res := s.pass(t.Context()); res != nil {
			gone = res
			break
		}
	}
	require.NotNil(t, gone)
	require.Equal(t, []string{"b"}, gone.Gone)
	require.Equal(t, t0.Add(11*time.Minute), gone.CheckedAt, "missing at the first check after it stopped, and SweeperForgetAfter later")
}

// The queries the server is sent.
func TestSweepQueries(t *testing.T) {
	q := and{watchQueries([]workflows.Watch{
		{TaskQueues: []string{"q1", "it's"}, FlowTypes: []string{"X"}},
		{TaskQueues: []string{"q2"}, FlowTypes: []string{"X", "Y"}},
	})[0], deadStatuses, since{fieldCloseTime, t0}}
	require.Equal(t, `((TaskQueue IN ('q1', 'it\'s') AND WorkflowType = 'X') OR (TaskQueue = 'q2' AND WorkflowType IN ('X', 'Y'))) AND ExecutionStatus IN ('Terminated', 'TimedOut') AND CloseTime >= '2026-03-01T12:00:00Z'`, q.String())

	// A large watch is split so that no query holds more than maxQueryTerms values, and every
	// pair is in one.
	var big []workflows.Watch
	for i := range 300 {
		big = append(big, workflows.Watch{TaskQueues: []string{fmt.Sprintf("q%03d", i)}, FlowTypes: []string{"X", fmt.Sprintf("T%03d", i)}})
	}
	big = append(big, workflows.Watch{TaskQueues: slices.Repeat([]string{"shared"}, 1), FlowTypes: make([]string, 250)})
	queries := watchQueries(big)
	require.Greater(t, len(queries), 4)
	for _, q := range queries {
		n := 0
		for _, part := range q.(or) {
			for _, c := range part.(and) {
				n += len(c.(in).values)
			}
		}
		require.LessOrEqual(t, n, maxQueryTerms)
	}
	f := newFake(t0)
	f.pageSize = 1000
	var runs []workflows.CrashedRun
	for i := range 300 {
		runs = append(runs, f.crash(fmt.Sprintf("r%d", i), fmt.Sprintf("T%03d", i), fmt.Sprintf("q%03d", i), terminated, t0, 0))
	}
	s := newSweep(f, workflows.SweepOptions{}, big, workflows.SweepState{})
	_, _ = s.pass(t.Context())
	for i, n := range f.handled(runs...) {
		require.Equal(t, 1, n, "run %d", i)
	}
}
