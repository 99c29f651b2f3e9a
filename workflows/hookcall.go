package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// callHook runs one hook call as its plan says — a local activity that moves to an activity when
// it fails (ModeAuto), an activity, or a local activity — and waits for it, retries included.
// ctx must be a context that survives cancellation of the run. A hook whose definition was wrong,
// or one the planning worker did not have, fails at once, without a command.
func (i *Interceptor) callHook(ctx workflow.Context, spec hookSpec, inv hooks.Invocation, runQueue string) error {
	if spec.Err != "" {
		return temporal.NewNonRetryableApplicationError(spec.Err, "flowstate.InvalidHook", nil)
	}
	if spec.Unregistered {
		unknown := &hooks.UnknownHookError{Name: spec.Name}
		if i.opts.Hooks != nil {
			unknown.Registered = i.opts.Hooks.Names()
		}
		return unknown
	}
	sameQueue := spec.Queue == "" || spec.Queue == runQueue
	summary := fmt.Sprintf("%s hook %s", inv.Event, inv.Hook)
	switch {
	case spec.Mode == hooks.ModeLocal && sameQueue:
		return localHook(ctx, inv, summary, spec.Retry, spec.Timeout)
	case spec.Mode == hooks.ModeAuto && sameQueue:
		budget := min(spec.Timeout, hooks.AutoLocalTimeout)
		err := localHook(ctx, inv, summary, &temporal.RetryPolicy{MaximumAttempts: 1}, budget)
		if err == nil || !worthAnActivity(err) {
			return err
		}
		policy := *spec.Retry
		if policy.MaximumAttempts == 1 {
			return err // the local attempt was the only one
		}
		if policy.MaximumAttempts > 1 {
			policy.MaximumAttempts--
		}
		// The activity is the call's second attempt: it waits as a retry would.
		wait := policy.InitialInterval
		if wait <= 0 {
			wait = time.Second
		}
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.NextRetryDelay() > 0 {
			wait = app.NextRetryDelay()
		}
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
		inv.AttemptBase = 1
		spec.Retry = &policy
		return activityHook(ctx, spec, inv, summary+" (moved to an activity after its local attempt: "+shortError(err)+")")
	}
	return activityHook(ctx, spec, inv, summary)
}

func localHook(ctx workflow.Context, inv hooks.Invocation, summary string, policy *temporal.RetryPolicy, timeout time.Duration) error {
	lao := workflow.LocalActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: policy, Summary: summary}
	return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, lao), names.HookActivity, inv).Get(ctx, nil)
}

func activityHook(ctx workflow.Context, spec hookSpec, inv hooks.Invocation, summary string) error {
	ao := workflow.ActivityOptions{
		TaskQueue:           spec.Queue,
		StartToCloseTimeout: spec.Timeout,
		HeartbeatTimeout:    spec.Heartbeat,
		RetryPolicy:         spec.Retry,
		Summary:             summary,
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), names.HookActivity, inv).Get(ctx, nil)
}

// worthAnActivity reports whether a hook call whose local attempt ended with err should go on as
// an activity: it timed out, crashed or failed retryably, or this worker lacks the hook (another
// worker of the queue may have it). A non-retryable error of the hook's own is final.
func worthAnActivity(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable() || app.Type() == hooks.UnknownHookErrorType
	}
	var canceled *temporal.CanceledError
	return !errors.As(err, &canceled)
}

func shortError(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
