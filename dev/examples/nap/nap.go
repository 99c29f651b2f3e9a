// Package nap is a flow whose task sleeps, to watch what happens to a run that is still going: it
// can be cancelled (its on_cancellation hook runs, the task sees its context cancelled), terminated
// (the crash sweeper runs its on_crashed hook), or outlive its worker and server — start it, stop
// `flowstate dev --db-file …` while the task sleeps, start it again on the same file: the task's
// attempt is found lost after its heartbeat timeout, retried, and the run completes with its
// on_completion hook run once.
package nap

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
)

// Name names the example in the demo.
const Name = "nap"

// Params say how long to sleep.
type Params struct {
	Seconds float64 `json:"seconds"`
}

// Nap sleeps, unless cancelled.
var Nap = adapter.NewTask("nap", func(ctx context.Context, p Params) (string, error) {
	d := time.Duration(p.Seconds * float64(time.Second))
	select {
	case <-time.After(d):
		return fmt.Sprintf("slept %s", d), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}, adapter.TaskOptions{Retries: 3, HeartbeatTimeout: 2 * time.Second})

// WokeUp is the flow's on_completion hook.
var WokeUp = hooks.NewFlowHook("woke-up", func(ctx context.Context, c hooks.FlowCall) error {
	effects.Printf(Name, "on_completion: flow run %s woke up (key %s)", c.Run.Name, c.Hook.IdempotencyKey)
	return nil
})

// WokenEarly is the flow's on_cancellation hook. It runs when the flow enters Cancelling, before
// the sleeping task is cancelled.
var WokenEarly = hooks.NewFlowHook("woken-early", func(ctx context.Context, c hooks.FlowCall) error {
	effects.Printf(Name, "on_cancellation: flow run %s was woken before its time", c.Run.Name)
	return nil
})

// NeverWoke is the flow's on_crashed hook. A terminated run runs no code of its own: the crash
// sweeper runs this hook for it.
var NeverWoke = hooks.NewFlowHook("never-woke", func(ctx context.Context, c hooks.FlowCall) error {
	effects.Printf(Name, "on_crashed: flow run %s never woke up (%s)", c.Run.Name, c.State.Message)
	return nil
})

// Flow naps once.
var Flow = adapter.NewFlow("nap-flow", func(ctx workflow.Context, p Params) (string, error) {
	return Nap.Run(ctx, p)
}, adapter.FlowOptions{
	OnCompletion:   []hooks.FlowHook{WokeUp},
	OnCancellation: []hooks.FlowHook{WokenEarly},
	OnCrashed:      []hooks.FlowHook{NeverWoke},
})
