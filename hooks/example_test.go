package hooks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/flowstate/flowstate/hooks"
)

// A hook with arguments bound when it is attached: Prefect's functools.partial. The arguments
// travel in workflow history as JSON.
func ExampleNewTaskHookWithArgs() {
	type kwargs struct {
		X string `json:"x"`
		Y int    `json:"y"`
	}
	myHook := hooks.NewTaskHookWithArgs("my-hook", func(ctx context.Context, call hooks.TaskCall, args kwargs) error {
		fmt.Println(args.X, args.Y, call.State)
		return nil
	})
	attached := myHook.Bind(kwargs{X: "foo", Y: 42})
	fmt.Println(attached.Name(), string(attached.Args()))
	// Output: my-hook {"x":"foo","y":42}
}

func ExampleState_String() {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failed := hooks.NewState(hooks.Failed, at)
	failed.Message = "oops!"
	fmt.Println(failed)
	fmt.Println(hooks.NewState(hooks.Scheduled, at).Named(hooks.NameAwaitingRetry), failed.IsTerminal())
	// Output:
	// Failed("oops!")
	// AwaitingRetry true
}

func ExampleHistory_Timeline() {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := func(typ hooks.StateType, name string, d time.Duration) *hooks.State {
		s := hooks.NewState(typ, t0.Add(d)).Named(name)
		return &s
	}
	h := hooks.History{Flow: "failing-flow", WorkflowID: "wf-1", Entries: []hooks.Entry{
		{Seq: 1, Kind: hooks.KindFlow, Run: "wf-1", Name: "failing-flow", State: st(hooks.Running, "Running", 0)},
		{Seq: 2, Kind: hooks.KindFlow, Run: "wf-1", Name: "failing-flow", State: st(hooks.Failed, "Failed", time.Second)},
		{Seq: 3, Kind: hooks.KindFlow, Run: "wf-1", Name: "failing-flow", Time: t0.Add(2 * time.Second),
			Hook: &hooks.HookResult{Hook: "notify-slack", Event: hooks.OnFailure, Status: hooks.HookCompleted}},
	}}
	fmt.Print(h.Timeline())
	// Output:
	//      +0s  flow failing-flow            Running
	//      +1s  flow failing-flow            Failed
	//      +2s  flow failing-flow            hook on_failure notify-slack: completed
}
