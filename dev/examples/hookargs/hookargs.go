// Package hookargs is Prefect's "pass kwargs to state change hooks": a task given an on_failure
// hook with arguments bound when it is attached (x="foo", y=42); the flow runs it with its state
// returned and completes; the hook sees the arguments and the task's Failed state.
package hookargs

import (
	"context"
	"errors"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
)

// Name names the example in the demo.
const Name = "hook-args"

// Kwargs are the hook's bound arguments. They travel in workflow history as JSON.
type Kwargs struct {
	X string `json:"x"`
	Y int    `json:"y"`
}

// Params are the flow's parameters, with Prefect's defaults applied when left empty.
type Params struct {
	X string `json:"x"`
	Y int    `json:"y"`
}

// Result is what the flow returns: "bar" and the task's final state.
type Result struct {
	Bar   string      `json:"bar"`
	State hooks.State `json:"state"`
}

// MyHook is Prefect's my_hook(task, task_run, state, **kwargs).
var MyHook = hooks.NewTaskHookWithArgs("my-hook", func(ctx context.Context, c hooks.TaskCall, kw Kwargs) error {
	effects.Printf(Name, "my-hook saw x=%q y=%d state=%s", kw.X, kw.Y, c.State)
	return nil
})

// BadTask always fails.
var BadTask = adapter.NewTask("bad-task", func(ctx context.Context, _ struct{}) (struct{}, error) {
	return struct{}{}, errors.New("meh")
})

// Flow is Prefect's ok_with_failure_flow.
var Flow = adapter.NewFlow("ok-with-failure-flow", func(ctx workflow.Context, p Params) (Result, error) {
	if p.X == "" {
		p.X = "foo"
	}
	if p.Y == 0 {
		p.Y = 42
	}
	withHook := BadTask.WithOptions(func(o *adapter.TaskOptions) {
		o.OnFailure = []hooks.TaskHook{MyHook.Bind(Kwargs{X: p.X, Y: p.Y})}
	})
	_, st := withHook.RunState(ctx, struct{}{})
	return Result{Bar: "bar", State: st}, nil
})

// Hooks lists the hooks attached in flow code, which the worker must know.
var Hooks = []hooks.Definition{MyHook}
