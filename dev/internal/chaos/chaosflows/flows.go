// Package chaosflows holds the flow, tasks and hooks the chaos tests run in a separate worker
// process (internal/chaos/chaosworker) and kill. Tasks and hooks tell the test where they are
// with marker files, and hooks leave one effect file per idempotency key in the effects
// directory, so that the test counts effects outside the worker.
package chaosflows

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/hooks"
)

// Environment of the chaos worker process.
const (
	// EnvDir is the effects directory: effects, the attempts log and markers.
	EnvDir = "FLOWSTATE_CHAOS_DIR"
	// EnvQueue is the task queue the worker serves.
	EnvQueue = "FLOWSTATE_CHAOS_QUEUE"
	// EnvSweepInterval is the crash sweeper's interval, as a Go duration.
	EnvSweepInterval = "FLOWSTATE_CHAOS_SWEEP_INTERVAL"
	// EnvExitDelay is how long the process lives on after its worker stopped (SIGTERM), as a Go
	// duration.
	EnvExitDelay = "FLOWSTATE_CHAOS_EXIT_DELAY"
	// EnvSweeperGroup is the crash sweeper's group (worker.SweeperOptions.Group): each test has
	// a sweeper of its own.
	EnvSweeperGroup = "FLOWSTATE_CHAOS_SWEEPER_GROUP"
	// EnvFlows, when set, names the flows the worker runs, comma-separated (a worker of an older
	// version, which lacks some); default: all of Flows.
	EnvFlows = "FLOWSTATE_CHAOS_FLOWS"
)

// Identity returns the Temporal client identity of the chaos worker process with the given pid.
func Identity(pid int) string { return fmt.Sprintf("chaosworker-%d", pid) }

// HeartbeatTimeout is the heartbeat timeout of the chaos tasks and hooks: a killed worker is
// noticed this soon.
//
// The SDK sends an activity's heartbeats at most once per 80% of its heartbeat timeout, counted
// from the end of the previous heartbeat's RPC, so a live task's heartbeats reach the server
// 0.2 × HeartbeatTimeout plus two RPC latencies apart from its deadline. At 2 s that margin (400
// ms) was too thin for the race detector on a busy two-core machine: live tasks were taken for
// lost now and then. 3 s leaves 600 ms.
const HeartbeatTimeout = 3 * time.Second

// FlowName is the chaos flow's workflow type.
const FlowName = "chaos"

// DataKey is the run data key under which the flow attaches Input.Resource.
const DataKey = "resource"

// Mode chooses what a run of the chaos flow does.
type Mode string

// The modes.
const (
	// ModeBlock runs a task without retries that blocks until its context ends.
	ModeBlock Mode = "block"
	// ModeBlockRetry runs a task with one retry that blocks on its first attempt and completes on
	// its second.
	ModeBlockRetry Mode = "block-retry"
	// ModeBlockRetryRunning is ModeBlockRetry with a task that has an on_running hook, whose
	// attempts the flow schedules itself.
	ModeBlockRetryRunning Mode = "block-retry-running"
	// ModeSleep sleeps in the flow for an hour.
	ModeSleep Mode = "sleep"
	// ModeQuick runs a task that completes at once.
	ModeQuick Mode = "quick"
	// ModePanicFlow panics in flow code.
	ModePanicFlow Mode = "panic-flow"
	// ModePanicTask runs a task that panics.
	ModePanicTask Mode = "panic-task"
	// ModeIgnoreCancel runs a task that, once its context is cancelled, goes on for
	// IgnoreCancelFor (three heartbeat timeouts) before it returns.
	ModeIgnoreCancel Mode = "ignore-cancel"
)

// IgnoreCancelFor is how long the task of ModeIgnoreCancel goes on after its cancellation: long
// enough that a task that stopped heartbeating when cancelled would be taken for lost.
const IgnoreCancelFor = 3 * HeartbeatTimeout

// Input is the chaos flow's input.
type Input struct {
	Mode Mode `json:"mode"`
	// Resource, when set, is attached to the run under DataKey before anything else.
	Resource string `json:"resource,omitempty"`
	// BlockHook names a flow hook that, once it made its effect, blocks the first time it is
	// called for the run (until the test kills its worker), marking HookBlocked.
	BlockHook string `json:"block_hook,omitempty"`
	// FailHookOnce names a flow hook whose first attempt for the run fails, before its effect,
	// marking HookFailed: a ModeAuto call then moves from its local attempt to an activity.
	FailHookOnce string `json:"fail_hook_once,omitempty"`
}

// Panic messages.
const (
	FlowPanic = "chaos: the flow panics on purpose"
	TaskPanic = "chaos: the task panics on purpose"
)

// Dir returns the effects directory of this worker process.
func Dir() string { return os.Getenv(EnvDir) }

// block waits for ctx, marking the start and the end; it gives up after ten minutes.
func block(ctx context.Context) (string, error) {
	run := adapter.TaskRunInfo(ctx)
	if err := Mark(Dir(), run.FlowRunID, TaskStarted, fmt.Sprintf("pid %d attempt %d", os.Getpid(), run.Attempt)); err != nil {
		return "", err
	}
	select {
	case <-ctx.Done():
		if err := Mark(Dir(), run.FlowRunID, TaskCtxDone, ctx.Err().Error()); err != nil {
			return "", err
		}
		return "", ctx.Err()
	case <-time.After(10 * time.Minute):
		return "", fmt.Errorf("chaos: nobody killed or cancelled the task within ten minutes")
	}
}

// ignoreCancel blocks until its context ends, then goes on for IgnoreCancelFor regardless, marking
// the start, the cancellation and its return.
func ignoreCancel(ctx context.Context) (string, error) {
	run := adapter.TaskRunInfo(ctx)
	if err := Mark(Dir(), run.FlowRunID, TaskStarted, fmt.Sprintf("pid %d attempt %d", os.Getpid(), run.Attempt)); err != nil {
		return "", err
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Minute):
		return "", fmt.Errorf("chaos: nobody cancelled the task within ten minutes")
	}
	if err := Mark(Dir(), run.FlowRunID, TaskCtxDone, ctx.Err().Error()); err != nil {
		return "", err
	}
	time.Sleep(IgnoreCancelFor) // ignores the cancellation: cleaning up, say
	if err := Mark(Dir(), run.FlowRunID, TaskReturned, "after ignoring the cancellation"); err != nil {
		return "", err
	}
	return "finished anyway", nil
}

// Task hooks: every task hook records its effect.
var (
	TaskOnCrashed      = taskHook("chaos.task.on_crashed")
	TaskOnCancellation = taskHook("chaos.task.on_cancellation")
	TaskOnFailure      = taskHook("chaos.task.on_failure")
	TaskOnRunning      = taskHook("chaos.task.on_running")
)

func taskHooks() adapter.TaskOptions {
	return adapter.TaskOptions{
		HeartbeatTimeout: HeartbeatTimeout,
		OnCrashed:        []hooks.TaskHook{TaskOnCrashed},
		OnCancellation:   []hooks.TaskHook{TaskOnCancellation},
		OnFailure:        []hooks.TaskHook{TaskOnFailure},
	}
}

// BlockTask blocks until its context ends. It has no retries.
var BlockTask = adapter.NewTask("chaos.block", func(ctx context.Context, _ struct{}) (string, error) {
	return block(ctx)
}, taskHooks())

// IgnoreCancelTask ignores its cancellation for a while. It has no retries.
var IgnoreCancelTask = adapter.NewTask("chaos.ignore-cancel", func(ctx context.Context, _ struct{}) (string, error) {
	return ignoreCancel(ctx)
}, taskHooks())

// BlockRetryTask blocks on its first attempt and completes on the next; it has one retry.
var BlockRetryTask = adapter.NewTask("chaos.block-retry", func(ctx context.Context, _ struct{}) (string, error) {
	if a := adapter.TaskRunInfo(ctx).Attempt; a > 1 {
		return fmt.Sprintf("completed on attempt %d by pid %d", a, os.Getpid()), nil
	}
	return block(ctx)
}, func() adapter.TaskOptions { o := taskHooks(); o.Retries = 1; return o }())

// BlockRetryRunningTask is BlockRetryTask with an on_running hook.
var BlockRetryRunningTask = adapter.NewTask("chaos.block-retry-running", func(ctx context.Context, _ struct{}) (string, error) {
	if a := adapter.TaskRunInfo(ctx).Attempt; a > 1 {
		return fmt.Sprintf("completed on attempt %d by pid %d", a, os.Getpid()), nil
	}
	return block(ctx)
}, func() adapter.TaskOptions {
	o := taskHooks()
	o.Retries = 1
	o.OnRunning = []hooks.TaskHook{TaskOnRunning}
	return o
}())

// QuickTask completes at once.
var QuickTask = adapter.NewTask("chaos.quick", func(ctx context.Context, _ struct{}) (string, error) {
	return "quick", nil
}, taskHooks())

// PanicTask panics.
var PanicTask = adapter.NewTask("chaos.panic", func(ctx context.Context, _ struct{}) (string, error) {
	panic(TaskPanic)
}, taskHooks())

// Flow hooks: every flow hook records its effect, and blocks after it when Input.BlockHook
// names it, the first time.
var (
	FlowOnCrashed      = flowHook("chaos.flow.on_crashed")
	FlowOnCompletion   = flowHook("chaos.flow.on_completion")
	FlowOnFailure      = flowHook("chaos.flow.on_failure")
	FlowOnCancellation = flowHook("chaos.flow.on_cancellation")
)

// Flow is the chaos flow.
var Flow = adapter.NewFlow(FlowName, func(ctx workflow.Context, in Input) (string, error) {
	if in.Resource != "" {
		if err := adapter.SetRunData(ctx, DataKey, in.Resource); err != nil {
			return "", err
		}
	}
	switch in.Mode {
	case ModeBlock:
		return BlockTask.Run(ctx, struct{}{})
	case ModeBlockRetry:
		return BlockRetryTask.Run(ctx, struct{}{})
	case ModeBlockRetryRunning:
		return BlockRetryRunningTask.Run(ctx, struct{}{})
	case ModeSleep:
		err := workflow.Sleep(ctx, time.Hour)
		return "slept", err
	case ModeQuick:
		return QuickTask.Run(ctx, struct{}{})
	case ModePanicFlow:
		panic(FlowPanic)
	case ModePanicTask:
		return PanicTask.Run(ctx, struct{}{})
	case ModeIgnoreCancel:
		return IgnoreCancelTask.Run(ctx, struct{}{})
	}
	return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("chaos: unknown mode %q", in.Mode), "chaos.Mode", nil)
}, adapter.FlowOptions{
	OnCrashed:      []hooks.FlowHook{FlowOnCrashed},
	OnCompletion:   []hooks.FlowHook{FlowOnCompletion},
	OnFailure:      []hooks.FlowHook{FlowOnFailure},
	OnCancellation: []hooks.FlowHook{FlowOnCancellation},
})

// Flows are the flows the chaos worker registers: the chaos flow, the transaction flow and the
// crash clean-up example.
func Flows() []adapter.AnyFlow { return []adapter.AnyFlow{Flow, TxFlow, crashcleanup.Flow} }

// Tasks are the tasks the chaos worker registers.
func Tasks() []adapter.AnyTask {
	return []adapter.AnyTask{BlockTask, BlockRetryTask, BlockRetryRunningTask, QuickTask, PanicTask, IgnoreCancelTask, Book, crashcleanup.CreateJob, crashcleanup.TaskThatCrashes}
}

// hookOptions leave Mode to the default, ModeAuto: a call's first attempt runs as a local
// activity and moves to an activity when it fails.
var hookOptions = hooks.Options{HeartbeatTimeout: HeartbeatTimeout}

func flowHook(name string) hooks.FlowHook {
	return hooks.NewFlowHook(name, func(ctx context.Context, c hooks.FlowCall) error {
		var in Input
		if err := json.Unmarshal(c.Run.Parameters, &in); err != nil {
			return fmt.Errorf("chaos: decoding the run's input: %w", err)
		}
		local := activity.GetInfo(ctx).IsLocalActivity
		if in.FailHookOnce == name && !Marked(Dir(), c.Run.ID, HookFailed) {
			if err := Mark(Dir(), c.Run.ID, HookFailed, fmt.Sprintf("pid %d attempt %d local %t", os.Getpid(), c.Hook.Attempt, local)); err != nil {
				return err
			}
			if err := RecordFailure(Dir(), Attempt{
				Hook: name, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey, WorkflowID: c.Run.ID,
				Attempt: c.Hook.Attempt, PID: os.Getpid(), At: time.Now(), Local: local,
			}); err != nil {
				return err
			}
			return fmt.Errorf("chaos: %s fails its first attempt on purpose", name)
		}
		e := Effect{
			Hook: name, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey,
			WorkflowID: c.Run.ID, RunID: c.Run.RunID, State: c.State.Name, Message: c.State.Message,
			Data: c.Run.Data, Attempt: c.Hook.Attempt, Local: local, PID: os.Getpid(), At: time.Now(),
		}
		if err := Record(Dir(), e); err != nil {
			return err
		}
		if in.BlockHook != name || Marked(Dir(), c.Run.ID, HookBlocked) {
			return nil
		}
		if err := Mark(Dir(), c.Run.ID, HookBlocked, fmt.Sprintf("pid %d attempt %d local %t", os.Getpid(), c.Hook.Attempt, local)); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Minute):
			return fmt.Errorf("chaos: nobody killed the hook within ten minutes")
		}
	}, hookOptions)
}

func taskHook(name string) hooks.TaskHook {
	return hooks.NewTaskHook(name, func(ctx context.Context, c hooks.TaskCall) error {
		return Record(Dir(), Effect{
			Hook: name, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey,
			WorkflowID: c.Run.FlowRunID, RunID: c.Run.FlowRunRunID, TaskRun: c.Run.ID,
			State: c.State.Name, Message: c.State.Message,
			Attempt: c.Hook.Attempt, Local: activity.GetInfo(ctx).IsLocalActivity, PID: os.Getpid(), At: time.Now(),
		})
	}, hookOptions)
}
