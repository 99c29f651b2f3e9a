// Package deployflows holds the two versions of the definitions the rolling-deploy test
// (dev/internal/deploy) runs in worker processes (deployworker), one after the other: "v1", and
// "v2", which changes the options of every flow, task, plain workflow and plain activity the way
// a routine deploy does — hooks added, removed and reordered, on_running added to a task and
// removed from another, hooks switched between modes, hooks attached by name to a plain workflow
// and activity (and detached from others), a hook removed from the worker altogether. The flows'
// code is the same in both versions.
//
// Every hook leaves one effect file per idempotency key in the effects directory
// (chaosflows.Record), so that the test counts the hook calls of every run outside the workers.
package deployflows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// EnvVersion is the environment variable that says which definitions a worker process has: "v1"
// or "v2". The task queue and the effects directory are chaosflows.EnvQueue and
// chaosflows.EnvDir.
const EnvVersion = "FLOWSTATE_DEPLOY_VERSION"

// Input is the input of every flow and plain workflow of the test.
type Input struct {
	// Wait makes the run wait for SignalGo after its first calls: the deploy happens then.
	Wait bool `json:"wait,omitempty"`
	// Block makes the first attempt of the first calls of the tasks that fail their first
	// attempt block until the worker dies (or Release), so that the deploy happens mid-task.
	Block bool `json:"block,omitempty"`
}

// SignalGo releases a run that waits.
const SignalGo = "go"

// QueryStage is a query the flows and plain workflows answer with "waiting" while they wait for
// SignalGo.
const QueryStage = "deploy.stage"

// HeartbeatTimeout is the heartbeat timeout of the tasks: a killed worker's attempt fails this
// soon. Not less: the SDK sends heartbeats at most once per 80% of the timeout, and a live task
// must not be taken for lost on a busy machine (see chaosflows.HeartbeatTimeout).
const HeartbeatTimeout = 3 * time.Second

// Workflow types.
const (
	HooksFlow    = "deploy-hooks"
	RunningFlow  = "deploy-running"
	ModesFlow    = "deploy-modes"
	GoneFlow     = "deploy-gone"
	AttachPlain  = "deploy-plain-attach"
	DetachPlain  = "deploy-plain-detach"
	AttachCharge = "deploy.charge-attach"
	DetachCharge = "deploy.charge-detach"
)

// Task names.
const (
	TaskT1 = "deploy.t1" // hooks changed; called before and after the deploy
	TaskT2 = "deploy.t2" // hooks changed; first called after the deploy
	TaskT3 = "deploy.t3" // on_running added in v2
	TaskT4 = "deploy.t4" // on_running removed in v2
	TaskT5 = "deploy.t5" // its hook's mode switched
)

// Hook names.
const (
	FlowA = "deploy.flow.a"
	FlowB = "deploy.flow.b"
	FlowC = "deploy.flow.c"
	FlowD = "deploy.flow.d"
	FlowE = "deploy.flow.e"
	FlowN = "deploy.flow.n" // new in v2
	TaskX = "deploy.task.x"
	TaskY = "deploy.task.y"
	TaskZ = "deploy.task.z" // new in v2
	TaskP = "deploy.task.p"
	TaskQ = "deploy.task.q" // new in v2
	TaskR = "deploy.task.running"
	// Hooks whose mode changes: ModeActivity → ModeLocal, ModeLocal → ModeActivity, ModeAuto →
	// ModeActivity; a task hook ModeActivity → ModeLocal.
	ModeAL  = "deploy.mode.activity-to-local"
	ModeLA  = "deploy.mode.local-to-activity"
	ModeUA  = "deploy.mode.auto-to-activity"
	ModeTAL = "deploy.mode.task-activity-to-local"
	// GoneG is removed from the worker altogether in v2; GoneH stays.
	GoneG = "deploy.gone.g"
	GoneH = "deploy.gone.h"
	// Hooks attached by name to the plain workflows and activities.
	PlainRunning  = "deploy.plain.running"
	PlainDone     = "deploy.plain.done"
	ChargeRunning = "deploy.charge.running"
	ChargeDone    = "deploy.charge.done"
)

// ModeOf returns the mode the hook named name has in version.
func ModeOf(name, version string) hooks.Mode {
	v1 := version == "v1"
	switch name {
	case ModeAL, ModeTAL:
		return pick(v1, hooks.ModeActivity, hooks.ModeLocal)
	case ModeLA:
		return pick(v1, hooks.ModeLocal, hooks.ModeActivity)
	case ModeUA:
		return pick(v1, hooks.ModeAuto, hooks.ModeActivity)
	}
	return hooks.ModeDefault
}

func pick[T any](first bool, a, b T) T {
	if first {
		return a
	}
	return b
}

// fastRetries keeps the calls of GoneG, which fail on v2, short.
var fastRetries = &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 3}

// Options returns the worker options of version ("v1" or "v2"). Register the plain workflows
// and activities with RegisterPlain.
func Options(version string) (worker.Options, error) {
	if version != "v1" && version != "v2" {
		return worker.Options{}, fmt.Errorf("deployflows: unknown version %q", version)
	}
	v1 := version == "v1"
	// One definition a name: a hook attached twice is the same hook.
	flowHooks, taskHooks := map[string]hooks.FlowHook{}, map[string]hooks.TaskHook{}
	fh := func(name string) hooks.FlowHook {
		if _, ok := flowHooks[name]; !ok {
			flowHooks[name] = flowHook(name, version, nil)
		}
		return flowHooks[name]
	}
	th := func(name string) hooks.TaskHook {
		if _, ok := taskHooks[name]; !ok {
			taskHooks[name] = taskHook(name, version)
		}
		return taskHooks[name]
	}

	t1 := adapter.NewTask(TaskT1, succeed, adapter.TaskOptions{
		OnCompletion: pick(v1, []hooks.TaskHook{th(TaskX), th(TaskY)}, []hooks.TaskHook{th(TaskY), th(TaskX), th(TaskZ)}),
	})
	t2 := adapter.NewTask(TaskT2, succeed, adapter.TaskOptions{
		OnCompletion: pick(v1, []hooks.TaskHook{th(TaskP)}, []hooks.TaskHook{th(TaskQ), th(TaskP)}),
	})
	running := []hooks.TaskHook{th(TaskR)}
	t3 := adapter.NewTask(TaskT3, failFirst, adapter.TaskOptions{Retries: 1, HeartbeatTimeout: HeartbeatTimeout,
		OnRunning: pick(v1, nil, running)})
	t4 := adapter.NewTask(TaskT4, failFirst, adapter.TaskOptions{Retries: 1, HeartbeatTimeout: HeartbeatTimeout,
		OnRunning: pick(v1, running, nil)})
	t5 := adapter.NewTask(TaskT5, succeed, adapter.TaskOptions{OnCompletion: []hooks.TaskHook{th(ModeTAL)}})

	hooksFlow := adapter.NewFlow(HooksFlow, func(ctx workflow.Context, in Input) (int, error) {
		st, err := newStage(ctx)
		if err != nil {
			return 0, err
		}
		a, err := t1.Run(ctx, 1)
		if err != nil {
			return 0, err
		}
		if err := st.waitGo(ctx, in); err != nil {
			return 0, err
		}
		b, err := t1.Run(ctx, a)
		if err != nil {
			return 0, err
		}
		return t2.Run(ctx, b)
	}, adapter.FlowOptions{
		OnRunning:    pick(v1, []hooks.FlowHook{fh(FlowA), fh(FlowB)}, []hooks.FlowHook{fh(FlowB), fh(FlowA)}),
		OnCompletion: pick(v1, []hooks.FlowHook{fh(FlowC), fh(FlowD)}, []hooks.FlowHook{fh(FlowD), fh(FlowN)}),
		OnFailure:    pick(v1, []hooks.FlowHook{fh(FlowE)}, []hooks.FlowHook{fh(FlowE), fh(FlowN)}),
	})
	runningFlow := adapter.NewFlow(RunningFlow, func(ctx workflow.Context, in Input) (int, error) {
		st, err := newStage(ctx)
		if err != nil {
			return 0, err
		}
		f3, f4 := t3.Submit(ctx, pick(in.Block, blockN, 1)), t4.Submit(ctx, pick(in.Block, blockN, 1))
		if _, err := f3.Get(ctx); err != nil {
			return 0, err
		}
		if _, err := f4.Get(ctx); err != nil {
			return 0, err
		}
		if err := st.waitGo(ctx, in); err != nil {
			return 0, err
		}
		if _, err := t3.Run(ctx, 2); err != nil {
			return 0, err
		}
		return t4.Run(ctx, 2)
	})
	modesFlow := adapter.NewFlow(ModesFlow, func(ctx workflow.Context, in Input) (int, error) {
		st, err := newStage(ctx)
		if err != nil {
			return 0, err
		}
		if _, err := t5.Run(ctx, 1); err != nil {
			return 0, err
		}
		if err := st.waitGo(ctx, in); err != nil {
			return 0, err
		}
		return t5.Run(ctx, 2)
	}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{fh(ModeAL), fh(ModeLA), fh(ModeUA)}})
	goneFlow := adapter.NewFlow(GoneFlow, func(ctx workflow.Context, in Input) (int, error) {
		st, err := newStage(ctx)
		if err != nil {
			return 0, err
		}
		if err := st.waitGo(ctx, in); err != nil {
			return 0, err
		}
		return 1, nil
	}, adapter.FlowOptions{
		OnCompletion: pick(v1, []hooks.FlowHook{flowHook(GoneG, version, fastRetries), fh(GoneH)}, []hooks.FlowHook{fh(GoneH)}),
	})

	byName := adapter.FlowOptions{OnRunning: []hooks.FlowHook{fh(PlainRunning)}, OnCompletion: []hooks.FlowHook{fh(PlainDone)}}
	charge := adapter.TaskOptions{OnRunning: []hooks.TaskHook{th(ChargeRunning)}, OnCompletion: []hooks.TaskHook{th(ChargeDone)}}
	attached, detached := pick(v1, DetachPlain, AttachPlain), pick(v1, DetachCharge, AttachCharge)
	var keep []hooks.Definition
	if !v1 {
		// FlowC left the flow's options but stays registered, so that the runs that planned it
		// run it; GoneG is removed from the worker altogether.
		keep = append(keep, fh(FlowC))
	}
	return worker.Options{
		Hooks:      keep,
		Flows:      []adapter.AnyFlow{hooksFlow, runningFlow, modesFlow, goneFlow},
		Tasks:      []adapter.AnyTask{t1, t2, t3, t4, t5},
		Workflows:  map[string]adapter.FlowOptions{attached: byName},
		Activities: map[string]adapter.TaskOptions{detached: charge},
	}, nil
}

// RegisterPlain registers the plain workflows and activities, the same in both versions.
func RegisterPlain(r sdkworker.Registry) {
	for wf, act := range map[string]string{AttachPlain: AttachCharge, DetachPlain: DetachCharge} {
		r.RegisterWorkflowWithOptions(plainWorkflow(act), workflow.RegisterOptions{Name: wf})
		r.RegisterActivityWithOptions(charge, activity.RegisterOptions{Name: act})
	}
}

// plainWorkflow returns a plain Temporal workflow that calls the activity act before and after
// it waits.
func plainWorkflow(act string) func(ctx workflow.Context, in Input) (int, error) {
	return func(ctx workflow.Context, in Input) (int, error) {
		st, err := newStage(ctx)
		if err != nil {
			return 0, err
		}
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		var n int
		if err := workflow.ExecuteActivity(ctx, act, 1).Get(ctx, &n); err != nil {
			return 0, err
		}
		if err := st.waitGo(ctx, in); err != nil {
			return 0, err
		}
		err = workflow.ExecuteActivity(ctx, act, n).Get(ctx, &n)
		return n, err
	}
}

func charge(_ context.Context, n int) (int, error) { return n + 10, nil }

// stage answers QueryStage for the workflow execution: "waiting" while waitGo waits.
type stage struct{ waiting bool }

func newStage(ctx workflow.Context) (*stage, error) {
	st := &stage{}
	return st, workflow.SetQueryHandler(ctx, QueryStage, func() (string, error) {
		if st.waiting {
			return "waiting", nil
		}
		return "busy", nil
	})
}

// waitGo waits for SignalGo when the input says so.
func (st *stage) waitGo(ctx workflow.Context, in Input) error {
	if !in.Wait {
		return nil
	}
	st.waiting = true
	workflow.GetSignalChannel(ctx, SignalGo).Receive(ctx, nil)
	st.waiting = false
	return nil
}

// blockN is the input that makes the first attempt of a failFirst task block.
const blockN = -1

func succeed(_ context.Context, n int) (int, error) { return n + 1, nil }

// failFirst fails its first attempt, or, given blockN, blocks in it until its worker dies or
// Release is called; later attempts complete.
func failFirst(ctx context.Context, n int) (int, error) {
	run := adapter.TaskRunInfo(ctx)
	if run.Attempt > 1 {
		return n + 1, nil
	}
	if n != blockN {
		return 0, errors.New("the first attempt fails on purpose")
	}
	dir := chaosflows.Dir()
	if err := chaosflows.Mark(dir, run.FlowRunID, Blocked(run.ID), fmt.Sprintf("pid %d", os.Getpid())); err != nil {
		return 0, err
	}
	for !released(dir) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return 0, errors.New("the blocked first attempt was released")
}

// Blocked is the marker a blocked attempt of the task run taskRun writes.
func Blocked(taskRun string) chaosflows.Marker { return chaosflows.Marker("blocked-" + taskRun) }

// Release releases blocked attempts in the effects directory dir.
func Release(dir string) error { return os.WriteFile(filepath.Join(dir, "released"), nil, 0o644) }

func released(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "released"))
	return err == nil
}

func flowHook(name, version string, retry *temporal.RetryPolicy) hooks.FlowHook {
	return hooks.NewFlowHook(name, func(ctx context.Context, c hooks.FlowCall) error {
		return chaosflows.Record(chaosflows.Dir(), chaosflows.Effect{
			Hook: name, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey,
			WorkflowID: c.Run.ID, RunID: c.Run.RunID, State: c.State.Name, Message: c.State.Message,
			Attempt: c.Hook.Attempt, PID: os.Getpid(), At: time.Now(), Local: activity.GetInfo(ctx).IsLocalActivity,
		})
	}, hooks.Options{Mode: ModeOf(name, version), RetryPolicy: retry})
}

func taskHook(name, version string) hooks.TaskHook {
	return hooks.NewTaskHook(name, func(ctx context.Context, c hooks.TaskCall) error {
		return chaosflows.Record(chaosflows.Dir(), chaosflows.Effect{
			Hook: name, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey,
			WorkflowID: c.Run.FlowRunID, RunID: c.Run.FlowRunRunID, TaskRun: c.Run.ID,
			State: c.State.Name, Message: c.State.Message,
			Attempt: c.Hook.Attempt, PID: os.Getpid(), At: time.Now(), Local: activity.GetInfo(ctx).IsLocalActivity,
		})
	}, hooks.Options{Mode: ModeOf(name, version)})
}
