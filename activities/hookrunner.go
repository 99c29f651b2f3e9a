package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// HookActivity is the activity type every hook call runs as. The call's hook name, event and
// idempotency key are in its input (a hooks.Invocation) and its summary.
const HookActivity = names.HookActivity

// HookRunner is the activity that runs hook calls: it looks the hook up in the worker's registry
// and calls it. Register it under HookActivity (the worker package does).
type HookRunner struct {
	reg     *hooks.Registry
	secrets hooks.SecretResolver
}

// NewHookRunner returns a hook runner for the hooks in reg. Hooks resolve named secrets with
// secrets (see hooks.Secret); nil leaves them without a resolver.
func NewHookRunner(reg *hooks.Registry, secrets hooks.SecretResolver) *HookRunner {
	return &HookRunner{reg: reg, secrets: secrets}
}

// Run runs one hook call. An error is retried by the hook's retry policy; an unknown hook is a
// non-retryable error naming the hooks the worker knows.
func (h *HookRunner) Run(ctx context.Context, inv hooks.Invocation) error {
	info := activity.GetInfo(ctx)
	attempt := inv.AttemptBase + int(info.Attempt)
	if h.secrets != nil {
		ctx = hooks.WithSecrets(ctx, h.secrets)
	}
	err := h.reg.Invoke(ctx, inv, attempt)
	if err != nil {
		activity.GetLogger(ctx).Warn("flowstate: hook call failed",
			"hook", inv.Hook, "event", inv.Event, "attempt", attempt, "key", inv.Key, "error", err)
	}
	if hooks.IsUnknownHook(err) && !info.IsLocalActivity {
		// Another worker of the task queue may have the hook (a deploy in progress): retry, within
		// the hook's retry policy, rather than give up on this worker's word.
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return temporal.NewApplicationError(app.Message(), hooks.UnknownHookErrorType)
		}
	}
	return err
}
