// Package replay is flowstate's replay corpus: workflow histories recorded on a real server from
// one set of flow definitions, committed under testdata/, and replayed by the tests on changed
// definitions, to show that a deploy never breaks a run in flight or the query of a closed run.
//
// The histories are recorded by the program in record/ (go run ./dev/internal/replay/record),
// from the scenarios of this package:
//
//   - testdata/v0.1: recorded by flowstate v0.1 (which recorded no hook plan), replayed on the
//     same definitions with worker.Options.LegacyRuns, the upgrade path for runs in flight;
//   - testdata/v0.2: recorded from each scenario's "v1" definitions (Scenarios), replayed on them
//     and on every one of the scenario's "v2" changes (Scenario.Changes): hooks added, removed and
//     reordered at every event of the flow and its task, on_running added to a task and removed,
//     hook modes switched, hooks attached by name to a plain workflow and activity and detached,
//     the FlowState search attribute registered or not, a WithOptions copy changed, retries,
//     delays and timeouts changed — for runs open (waiting for SignalGo) and closed (completed,
//     failed, crashed, cancelled);
//   - testdata/add71b7: the same "v1" runs recorded at commit add71b7, before the Web UI details
//     were rendered at each transition and before runs cached their metrics and encoded their
//     memo once; replayed on the "v1" definitions.
package replay

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// Input is the input of the corpus flows and plain workflows.
type Input struct {
	// Wait makes the run wait for the signal SignalGo after its first tasks, so that it can be
	// recorded while it is open.
	Wait bool `json:"wait,omitempty"`
	// Fail makes the run's body fail at its end.
	Fail bool `json:"fail,omitempty"`
	// Crash makes the flow's last task call panic on every attempt, which crashes the task and
	// the flow.
	Crash bool `json:"crash,omitempty"`
}

// SignalGo releases a run that waits.
const SignalGo = "go"

// Names of the corpus's flows, tasks, plain workflows and activities.
const (
	FlowName      = "corpus-flow"
	TaskName      = "corpus-task"
	PlainTaskName = "corpus-plain-task"
	PlainWorkflow = "corpus-plain-workflow"
	PlainActivity = "corpus-charge"
	CopyFlowName  = "corpus-copy-flow"
)

// fastHookRetries keeps failing hooks short.
var fastHookRetries = &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 2}

func noopFlowHook(name string) hooks.FlowHook {
	return hooks.NewFlowHook(name, func(context.Context, hooks.FlowCall) error { return nil })
}

func noopTaskHook(name string) hooks.TaskHook {
	return hooks.NewTaskHook(name, func(context.Context, hooks.TaskCall) error { return nil })
}

// Hooks the scenarios attach. Each is a value: attaching one twice attaches the same definition.
var (
	FlowRunning    = noopFlowHook("corpus-flow-running")
	FlowDone       = noopFlowHook("corpus-flow-done")
	FlowFailed     = noopFlowHook("corpus-flow-failed")
	FlowCancelled  = noopFlowHook("corpus-flow-cancelled")
	FlowCrashed    = noopFlowHook("corpus-flow-crashed")
	FlowAudit      = noopFlowHook("corpus-flow-audit")
	FlowExtra      = noopFlowHook("corpus-flow-extra")
	FlowFlaky      = hooks.NewFlowHook("corpus-flow-flaky", func(context.Context, hooks.FlowCall) error { return errors.New("flaky hook") }, hooks.Options{RetryPolicy: fastHookRetries})
	TaskRunning    = noopTaskHook("corpus-task-running")
	TaskDone       = noopTaskHook("corpus-task-done")
	TaskFailed     = noopTaskHook("corpus-task-failed")
	TaskCancelled  = noopTaskHook("corpus-task-cancelled")
	TaskCrashed    = noopTaskHook("corpus-task-crashed")
	TaskAudit      = noopTaskHook("corpus-task-audit")
	TaskExtra      = noopTaskHook("corpus-task-extra")
	BoundArgs      = hooks.NewTaskHookWithArgs("corpus-bound-args", func(context.Context, hooks.TaskCall, BoundArgsInput) error { return nil })
	PlainFailed    = noopFlowHook("corpus-plain-failed")
	PlainDone      = noopFlowHook("corpus-plain-done")
	ChargeDone     = noopTaskHook("corpus-charge-done")
	ChargeRunning  = noopTaskHook("corpus-charge-running")
	allCorpusHooks = []hooks.Definition{FlowRunning, FlowDone, FlowFailed, FlowCancelled, FlowCrashed, FlowAudit, FlowExtra, FlowFlaky,
		TaskRunning, TaskDone, TaskFailed, TaskCancelled, TaskCrashed, TaskAudit, TaskExtra, BoundArgs, PlainFailed, PlainDone, ChargeDone, ChargeRunning}
)

// BoundArgsInput are the arguments bound to BoundArgs.
type BoundArgsInput struct {
	X string `json:"x"`
	Y int    `json:"y"`
}

// Defs are one version of the corpus's definitions: what a worker of that version registers.
type Defs struct {
	Flow      adapter.FlowOptions
	Task      adapter.TaskOptions
	CopyHooks func(x string, y int) []hooks.TaskHook // on_failure hooks of the task copy CopyFlow makes
	// CopyEdit, when set, edits the options of the task copy CopyFlow makes, after CopyHooks.
	CopyEdit func(o *adapter.TaskOptions)
	Options  worker.Options // Workflows, Activities, HookDefaults, SearchAttributes
	// Unregistered names hooks the worker does not register at all, as a worker from which a
	// deploy removed them.
	Unregistered []string
}

// taskFn is the corpus task: it fails its first attempt, so that retries show, and panics on
// every attempt when n is negative.
func taskFn(ctx context.Context, n int) (int, error) {
	if n < 0 {
		panic("corpus task panics on purpose")
	}
	if adapter.TaskRunInfo(ctx).Attempt <= 1 {
		return 0, errors.New("first attempt fails")
	}
	return n + 1, nil
}

func plainTaskFn(_ context.Context, n int) (int, error) { return n * 2, nil }

// Charge is the plain activity of the plain workflow.
func Charge(_ context.Context, n int) (int, error) { return n + 10, nil }

// PlainWorkflowFn is a plain Temporal workflow, which hooks are attached to by name.
func PlainWorkflowFn(ctx workflow.Context, in Input) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out int
	if err := workflow.ExecuteActivity(ctx, PlainActivity, 1).Get(ctx, &out); err != nil {
		return 0, err
	}
	if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
		return 0, err
	}
	if in.Wait {
		if err := waitGo(ctx); err != nil {
			return 0, err
		}
	}
	var more int
	if err := workflow.ExecuteActivity(ctx, PlainActivity, out).Get(ctx, &more); err != nil {
		return 0, err
	}
	if in.Fail {
		return 0, errors.New("plain workflow fails")
	}
	return more, nil
}

// waitGo waits for SignalGo, or for the run to be cancelled.
func waitGo(ctx workflow.Context) error {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalGo), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	return ctx.Err()
}

// Build returns worker options registering the corpus's flows and tasks with the definitions d.
// Register the plain workflow and activity with RegisterPlain.
func Build(d Defs) worker.Options {
	task := adapter.NewTask(TaskName, taskFn, d.Task)
	plain := adapter.NewTask(PlainTaskName, plainTaskFn, adapter.TaskOptions{Retries: 1})
	flow := adapter.NewFlow(FlowName, func(ctx workflow.Context, in Input) (int, error) {
		if err := adapter.SetRunData(ctx, "stage", "started"); err != nil {
			return 0, err
		}
		a, err := task.Run(ctx, 1)
		if err != nil {
			return 0, err
		}
		b := task.Submit(ctx, a)
		c := plain.Submit(ctx, a)
		x, err := b.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, _ := c.Get(ctx)
		if in.Wait {
			if err := waitGo(ctx); err != nil {
				return 0, err
			}
		}
		n := x + y
		if in.Crash {
			n = -1
		}
		z, err := task.Run(ctx, n)
		if err != nil {
			return 0, err
		}
		if in.Fail {
			return 0, errors.New("flow body fails")
		}
		return z, nil
	}, d.Flow)
	copyFlow := adapter.NewFlow(CopyFlowName, func(ctx workflow.Context, in Input) (string, error) {
		hooked := task.WithOptions(func(o *adapter.TaskOptions) {
			o.Retries = 0
			if d.CopyHooks != nil {
				o.OnFailure = d.CopyHooks("foo", 42)
			}
			if d.CopyEdit != nil {
				d.CopyEdit(o)
			}
		})
		_, st := hooked.RunState(ctx, 1)
		if in.Wait {
			if err := waitGo(ctx); err != nil {
				return "", err
			}
		}
		_, st2 := hooked.RunState(ctx, 2)
		return st.Name + "/" + st2.Name, nil
	})
	o := d.Options
	o.Flows = []adapter.AnyFlow{flow, copyFlow}
	o.Tasks = []adapter.AnyTask{task, plain}
	o.Hooks = nil
	for _, h := range allCorpusHooks {
		if !slices.Contains(d.Unregistered, h.Name()) {
			o.Hooks = append(o.Hooks, h)
		}
	}
	return o
}

// Registrar is where RegisterPlain registers: a worker's Registry, or a workflow replayer.
type Registrar interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterPlain registers the plain workflow, and its activity where r runs activities.
func RegisterPlain(r Registrar) {
	r.RegisterWorkflowWithOptions(PlainWorkflowFn, workflow.RegisterOptions{Name: PlainWorkflow})
	if ar, ok := r.(sdkworker.ActivityRegistry); ok {
		ar.RegisterActivityWithOptions(Charge, activity.RegisterOptions{Name: PlainActivity})
	}
}
