package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
)

func TestRegistryInvoke(t *testing.T) {
	var got []string
	flowHook := hooks.NewFlowHook("flow-hook", func(ctx context.Context, c hooks.FlowCall) error {
		got = append(got, "flow "+c.Run.ID+" "+c.Hook.IdempotencyKey)
		return nil
	})
	type args struct {
		N int `json:"n"`
	}
	taskHook := hooks.NewTaskHookWithArgs("task-hook", func(ctx context.Context, c hooks.TaskCall, a args) error {
		if a.N < 0 {
			return errors.New("negative")
		}
		got = append(got, "task "+c.Run.ID)
		return nil
	})
	reg := hooks.NewRegistry()
	require.NoError(t, reg.Register(flowHook, taskHook, flowHook)) // the same hook twice is fine
	require.Equal(t, []string{"flow-hook", "task-hook"}, reg.Names())

	flowInv := hooks.Invocation{Hook: "flow-hook", Event: hooks.OnFailure, Key: "k1",
		Flow: &hooks.FlowInfo{Name: "f"}, FlowRun: &hooks.FlowRun{ID: "wf"}}
	require.NoError(t, reg.Invoke(t.Context(), flowInv, 1))
	taskInv := hooks.Invocation{Hook: "task-hook", Event: hooks.OnFailure, Args: json.RawMessage(`{"n":1}`),
		Task: &hooks.TaskInfo{Name: "t"}, TaskRun: &hooks.TaskRun{ID: "t#1"}}
	require.NoError(t, reg.Invoke(t.Context(), taskInv, 1))
	require.Equal(t, []string{"flow wf k1", "task t#1"}, got)

	t.Run("hook error is returned as is", func(t *testing.T) {
		inv := taskInv
		inv.Args = json.RawMessage(`{"n":-1}`)
		require.EqualError(t, reg.Invoke(t.Context(), inv, 1), "negative")
	})
	t.Run("arguments that do not decode are not retried", func(t *testing.T) {
		inv := taskInv
		inv.Args = json.RawMessage(`{"m":1}`)
		err := reg.Invoke(t.Context(), inv, 1)
		var app *temporal.ApplicationError
		require.ErrorAs(t, err, &app)
		require.True(t, app.NonRetryable())
		require.Contains(t, err.Error(), `bound arguments do not decode`)
	})
	t.Run("a flow hook called for a task run is refused", func(t *testing.T) {
		inv := taskInv
		inv.Hook = "flow-hook"
		require.ErrorContains(t, reg.Invoke(t.Context(), inv, 1), "is a flow hook but was called for a task run")
	})
	t.Run("unknown hook", func(t *testing.T) {
		inv := flowInv
		inv.Hook = "missing"
		err := reg.Invoke(t.Context(), inv, 1)
		require.True(t, hooks.IsUnknownHook(err))
		var app *temporal.ApplicationError
		require.ErrorAs(t, err, &app)
		require.True(t, app.NonRetryable())
		require.Contains(t, err.Error(), `hook "missing" is not registered on this worker (registered: flow-hook, task-hook)`)
		var unknown *hooks.UnknownHookError
		require.ErrorAs(t, err, &unknown)
		require.Equal(t, "missing", unknown.Name)
	})
	t.Run("two hooks with one name", func(t *testing.T) {
		other := hooks.NewFlowHook("flow-hook", func(context.Context, hooks.FlowCall) error { return nil })
		err := reg.Register(other)
		require.ErrorIs(t, err, hooks.ErrDuplicateHook)
	})
}

func TestSecretWithoutResolver(t *testing.T) {
	_, err := hooks.Secret(t.Context(), "slack-webhook/x")
	require.ErrorIs(t, err, hooks.ErrNoSecretResolver)
	require.ErrorContains(t, err, `"slack-webhook/x"`)
	ctx := hooks.WithSecrets(t.Context(), hooks.SecretResolverFunc(func(_ context.Context, name string) (string, error) {
		return "value-of-" + name, nil
	}))
	v, err := hooks.Secret(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, "value-of-a", v)
}

func TestEventFor(t *testing.T) {
	for typ, want := range map[hooks.StateType]hooks.Event{
		hooks.Running: hooks.OnRunning, hooks.Completed: hooks.OnCompletion, hooks.Failed: hooks.OnFailure,
		hooks.Cancelling: hooks.OnCancellation, hooks.Crashed: hooks.OnCrashed,
	} {
		e, ok := hooks.EventFor(hooks.State{Type: typ})
		require.True(t, ok)
		require.Equal(t, want, e)
	}
	for _, typ := range []hooks.StateType{hooks.Scheduled, hooks.Pending, hooks.Paused, hooks.Cancelled} {
		_, ok := hooks.EventFor(hooks.State{Type: typ})
		require.False(t, ok, typ)
	}
}
