package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// callHook runs one hook call as an activity (or a local activity, in ModeLocal) and waits for it,
// retries included. ctx must be a
// context that survives cancellation of the run. A hook with a definition error, or one the
// worker's registry lacks, fails at once without an activity.
func (i *Interceptor) callHook(ctx workflow.Context, defErr error, hopts hooks.Options, inv hooks.Invocation, runQueue string) error {
	if defErr != nil {
		return defErr
	}
	o := hopts.WithDefaults(i.opts.HookDefaults)
	sameQueue := o.TaskQueue == "" || o.TaskQueue == runQueue
	if reg := i.opts.Hooks; reg != nil && sameQueue && !reg.Has(inv.Hook) {
		return &hooks.UnknownHookError{Name: inv.Hook, Registered: reg.Names()}
	}
	summary := fmt.Sprintf("%s hook %s", inv.Event, inv.Hook)
	if o.Mode == hooks.ModeLocal && sameQueue {
		lao := workflow.LocalActivityOptions{StartToCloseTimeout: o.StartToCloseTimeout, RetryPolicy: o.RetryPolicy, Summary: summary}
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lao), names.HookActivity, inv).Get(ctx, nil)
	}
	ao := workflow.ActivityOptions{
		TaskQueue:           o.TaskQueue,
		StartToCloseTimeout: o.StartToCloseTimeout,
		HeartbeatTimeout:    o.HeartbeatTimeout,
		RetryPolicy:         o.RetryPolicy,
		Summary:             summary,
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), names.HookActivity, inv).Get(ctx, nil)
}

// nextID returns a fresh ID for a run named name within this workflow execution: name#1, name#2…
// It is deterministic, as workflow code runs in the same order on every replay.
func (in *inbound) nextID(name string) string {
	if in.ids == nil {
		in.ids = map[string]int{}
	}
	in.ids[name]++
	return fmt.Sprintf("%s#%d", name, in.ids[name])
}
