package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
)

// The workload, written twice: with the Temporal SDK alone (raw) and with flowstate. Every
// variant calls Tasks no-op activities, in sequence or all at once, and returns their sum so that
// the compiler and the SDK do the same work with the results.

// Input is the input of every bench workflow and flow.
type Input struct {
	Tasks int `json:"tasks"`
}

// Workflow and activity type names. The flowstate flows and tasks are named by flowName and
// taskName.
const (
	rawWorkflow           = "bench.raw"
	rawConcurrentWorkflow = "bench.raw-concurrent"
	rawActivity           = "bench.raw-noop"
)

// noop is the body of every activity and task: it does nothing, so what is measured is the
// machinery around it.
func noop(_ context.Context, i int) (int, error) { return i, nil }

// rawActivityOptions are the raw workflow's activity options: what a hand-written workflow sets.
var rawActivityOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Minute}

// RawWorkflow calls in.Tasks activities one after another, with the SDK alone.
func RawWorkflow(ctx workflow.Context, in Input) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, rawActivityOptions)
	sum := 0
	for i := range in.Tasks {
		var out int
		if err := workflow.ExecuteActivity(ctx, rawActivity, i).Get(ctx, &out); err != nil {
			return 0, err
		}
		sum += out
	}
	return sum, nil
}

// RawConcurrentWorkflow starts in.Tasks activities at once and waits for all, with the SDK alone.
func RawConcurrentWorkflow(ctx workflow.Context, in Input) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, rawActivityOptions)
	futures := make([]workflow.Future, in.Tasks)
	for i := range in.Tasks {
		futures[i] = workflow.ExecuteActivity(ctx, rawActivity, i)
	}
	sum := 0
	for _, f := range futures {
		var out int
		if err := f.Get(ctx, &out); err != nil {
			return 0, err
		}
		sum += out
	}
	return sum, nil
}

func registerRaw(w sdkworker.Registry) {
	w.RegisterWorkflowWithOptions(RawWorkflow, workflow.RegisterOptions{Name: rawWorkflow})
	w.RegisterWorkflowWithOptions(RawConcurrentWorkflow, workflow.RegisterOptions{Name: rawConcurrentWorkflow})
	w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: rawActivity})
}

// hookModes are the hook modes the benchmark runs flows in: ModeDefault is the default
// configuration (hooks without options, a worker without HookDefaults: ModeAuto).
var hookModes = []hooks.Mode{hooks.ModeDefault, hooks.ModeActivity, hooks.ModeLocal}

// flowName is the workflow type of a bench flow: sequential or concurrent, with no-op hooks on
// every event in mode, or without hooks.
func flowName(concurrent, hooked bool, mode hooks.Mode) string {
	name := "bench.flow"
	if concurrent {
		name += "-concurrent"
	}
	if hooked {
		name += "-hooks" + modeSuffix(mode)
	}
	return name
}

// taskName is the activity type of a bench task, with no-op hooks on every event in mode, or
// without hooks.
func taskName(hooked bool, mode hooks.Mode) string {
	if !hooked {
		return "bench.noop"
	}
	return "bench.noop-hooked" + modeSuffix(mode)
}

func modeSuffix(m hooks.Mode) string {
	if m == hooks.ModeDefault {
		return ""
	}
	return "-" + m.String()
}

// flowstateDefs are the flowstate side of the workload: a flow without hooks and one with hooks
// in each mode, sequential and concurrent, and their tasks, on one worker.
type flowstateDefs struct {
	flows map[string]*adapter.Flow[Input, int]
	tasks map[string]*adapter.Task[int, int]
	// mu guards what the no-op hooks saw since the last takeHookRuns: per hook call (its
	// idempotency key) how many times it ran, and per run the time from the state change (its
	// timestamp, workflow time) to the hook function starting.
	mu      sync.Mutex
	runs    map[string]int
	entries []time.Duration
}

// entered records a run of the hook call key that started now, for a state entered at stateTime.
func (d *flowstateDefs) entered(key string, stateTime time.Time) {
	lat := time.Since(stateTime)
	d.mu.Lock()
	if d.runs == nil {
		d.runs = map[string]int{}
	}
	d.runs[key]++
	d.entries = append(d.entries, lat)
	d.mu.Unlock()
}

// hookRuns is what the no-op hooks saw of one batch.
type hookRuns struct {
	// calls counts the hook calls that ran (their idempotency keys), attempts their runs: more
	// than calls when a call's local attempt ran again because its workflow task failed or timed
	// out on an overloaded machine.
	calls, attempts int64
	// entries are the hooks' start latencies.
	entries []time.Duration
}

// takeHookRuns returns what the hooks saw since the last call.
func (d *flowstateDefs) takeHookRuns() hookRuns {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := hookRuns{calls: int64(len(d.runs)), entries: d.entries}
	for _, n := range d.runs {
		h.attempts += int64(n)
	}
	d.runs, d.entries = nil, nil
	return h
}

func newFlowstateDefs() *flowstateDefs {
	d := &flowstateDefs{flows: map[string]*adapter.Flow[Input, int]{}, tasks: map[string]*adapter.Task[int, int]{}}

	// No-op hooks on every event of the flow and of each task. Only on_running and on_completion
	// fire in a run that succeeds; the others are attached as a user attaching "all hooks" would,
	// and on_crashed on the flow starts the crash sweeper of the task queue, as it would for them.
	// Every mode shares the hook definitions; the explicit modes attach them with options.
	flowHooks := map[hooks.Event]hooks.FlowHook{}
	taskHooks := map[hooks.Event]hooks.TaskHook{}
	for _, e := range hooks.Events {
		flowHooks[e] = hooks.NewFlowHook("bench.flow."+string(e), func(_ context.Context, c hooks.FlowCall) error {
			d.entered(c.Hook.IdempotencyKey, c.State.Timestamp)
			return nil
		})
		taskHooks[e] = hooks.NewTaskHook("bench.task."+string(e), func(_ context.Context, c hooks.TaskCall) error {
			d.entered(c.Hook.IdempotencyKey, c.State.Timestamp)
			return nil
		})
	}
	flowHook := func(e hooks.Event, m hooks.Mode) []hooks.FlowHook {
		if m == hooks.ModeDefault {
			return []hooks.FlowHook{flowHooks[e]}
		}
		return []hooks.FlowHook{flowHooks[e].WithOptions(hooks.Options{Mode: m})}
	}
	taskHook := func(e hooks.Event, m hooks.Mode) []hooks.TaskHook {
		if m == hooks.ModeDefault {
			return []hooks.TaskHook{taskHooks[e]}
		}
		return []hooks.TaskHook{taskHooks[e].WithOptions(hooks.Options{Mode: m})}
	}

	plain := adapter.NewTask(taskName(false, 0), noop)
	d.tasks[plain.Name()] = plain
	d.addFlows(false, 0, plain, adapter.FlowOptions{})
	for _, m := range hookModes {
		task := adapter.NewTask(taskName(true, m), noop, adapter.TaskOptions{
			OnRunning:      taskHook(hooks.OnRunning, m),
			OnCompletion:   taskHook(hooks.OnCompletion, m),
			OnFailure:      taskHook(hooks.OnFailure, m),
			OnCancellation: taskHook(hooks.OnCancellation, m),
			OnCrashed:      taskHook(hooks.OnCrashed, m),
		})
		d.tasks[task.Name()] = task
		d.addFlows(true, m, task, adapter.FlowOptions{
			OnRunning:      flowHook(hooks.OnRunning, m),
			OnCompletion:   flowHook(hooks.OnCompletion, m),
			OnFailure:      flowHook(hooks.OnFailure, m),
			OnCancellation: flowHook(hooks.OnCancellation, m),
			OnCrashed:      flowHook(hooks.OnCrashed, m),
		})
	}
	return d
}

// addFlows defines the sequential and the concurrent flow calling task.
func (d *flowstateDefs) addFlows(hooked bool, m hooks.Mode, task *adapter.Task[int, int], opts adapter.FlowOptions) {
	d.flows[flowName(false, hooked, m)] = adapter.NewFlow(flowName(false, hooked, m), sequential(task), opts)
	d.flows[flowName(true, hooked, m)] = adapter.NewFlow(flowName(true, hooked, m), concurrent(task), opts)
}

// flow returns the flow of a row.
func (d *flowstateDefs) flow(concurrent, hooked bool, m hooks.Mode) *adapter.Flow[Input, int] {
	return d.flows[flowName(concurrent, hooked, m)]
}

// sequential returns a flow body that runs in.Tasks calls of task one after another.
func sequential(task *adapter.Task[int, int]) func(workflow.Context, Input) (int, error) {
	return func(ctx workflow.Context, in Input) (int, error) {
		sum := 0
		for i := range in.Tasks {
			out, err := task.Run(ctx, i)
			if err != nil {
				return 0, err
			}
			sum += out
		}
		return sum, nil
	}
}

// concurrent returns a flow body that submits in.Tasks calls of task at once and awaits them.
func concurrent(task *adapter.Task[int, int]) func(workflow.Context, Input) (int, error) {
	return func(ctx workflow.Context, in Input) (int, error) {
		futures := make([]*adapter.Future[int], in.Tasks)
		for i := range in.Tasks {
			futures[i] = task.Submit(ctx, i)
		}
		sum := 0
		for _, f := range futures {
			out, err := f.Get(ctx)
			if err != nil {
				return 0, err
			}
			sum += out
		}
		return sum, nil
	}
}

func (d *flowstateDefs) flowList() []adapter.AnyFlow {
	out := make([]adapter.AnyFlow, 0, len(d.flows))
	for _, k := range slices.Sorted(maps.Keys(d.flows)) {
		out = append(out, d.flows[k])
	}
	return out
}

func (d *flowstateDefs) taskList() []adapter.AnyTask {
	out := make([]adapter.AnyTask, 0, len(d.tasks))
	for _, k := range slices.Sorted(maps.Keys(d.tasks)) {
		out = append(out, d.tasks[k])
	}
	return out
}

// started is one run the benchmark started and waits for.
type started struct {
	id, runID string
	// began is when the start call was made; returned when the wait for its close returned.
	began, returned time.Time
}

// starter starts one run of a row's workload.
type starter func(ctx context.Context, id string, tasks int) (started, error)

// closePoll bounds each long poll for a run's close. The server answers a long poll 1 s before
// its deadline (and at once when less than that is left, which makes the SDK's own result
// iterator spin on short deadlines), and it sometimes misses a close that happens as the poll
// begins, holding the poll for its full 20 s; a fresh poll sees such a close at once.
const closePoll = 3 * time.Second

// waitClosed waits for a run to close, with history long polls for its closing event, and
// returns an error unless it completed. Raw and flowstate runs are waited for alike.
func waitClosed(ctx context.Context, c client.Client, namespace string, run started) error {
	var token []byte
	for {
		pctx, cancel := context.WithTimeout(ctx, closePoll)
		resp, err := c.WorkflowService().GetWorkflowExecutionHistory(pctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace:              namespace,
			Execution:              &commonpb.WorkflowExecution{WorkflowId: run.id, RunId: run.runID},
			WaitNewEvent:           true,
			HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
			NextPageToken:          token,
			SkipArchival:           true,
		})
		expired := pctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && (expired || isCancel(err)):
			token = nil
			continue
		case err != nil && isTransient(err):
			// "Workflow is busy" and the like: the server sheds load on a loaded machine.
			token = nil
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			continue
		case err != nil:
			return fmt.Errorf("waiting for %s: %w", run.id, err)
		}
		for _, e := range resp.GetHistory().GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				return nil
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
				return fmt.Errorf("%s failed: %s", run.id, e.GetWorkflowExecutionFailedEventAttributes().GetFailure().GetMessage())
			default:
				return fmt.Errorf("%s closed with %s", run.id, eventTypeName(e.GetEventType()))
			}
		}
		token = resp.GetNextPageToken()
	}
}

// isCancel reports whether err is what a long poll returns when its context ends: the server
// may answer DeadlineExceeded, and a gRPC call's error can arrive before its context reports
// the deadline.
func isCancel(err error) bool {
	if err == nil {
		return false
	}
	var deadline *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &deadline) || errors.As(err, &canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded:
		return true
	}
	return strings.Contains(err.Error(), "RST_STREAM with error code: CANCEL")
}

// isTransient reports whether err is one the server returns when it is overloaded, which a
// retry may not meet: resource exhausted (a busy workflow) or unavailable.
func isTransient(err error) bool {
	var exhausted *serviceerror.ResourceExhausted
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &exhausted) || errors.As(err, &unavailable) {
		return true
	}
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.Unavailable:
		return true
	}
	return false
}

// startWorkflow starts a plain workflow type from the SDK client, as raw Temporal users do (and
// as the temporal CLI does for a flow: without the FlowState search attribute).
func startWorkflow(c client.Client, queue, typ string) starter {
	return func(ctx context.Context, id string, tasks int) (started, error) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, typ, Input{Tasks: tasks})
		if err != nil {
			return started{}, fmt.Errorf("starting %s: %w", typ, err)
		}
		return started{id: run.GetID(), runID: run.GetRunID()}, nil
	}
}

// startFlow starts a flow with Flow.Start, which starts it with FlowState=Running.
func startFlow(c client.Client, queue string, f *adapter.Flow[Input, int]) starter {
	return func(ctx context.Context, id string, tasks int) (started, error) {
		run, err := f.Start(ctx, c, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, Input{Tasks: tasks})
		if err != nil {
			return started{}, err
		}
		return started{id: run.ID(), runID: run.RunID()}, nil
	}
}
