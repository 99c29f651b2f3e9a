package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func noopFlow(name string, opts ...adapter.FlowOptions) *adapter.Flow[empty, empty] {
	return adapter.NewFlow(name, func(ctx workflow.Context, _ empty) (empty, error) { return empty{}, nil }, opts...)
}

func noopTask(name string, opts ...adapter.TaskOptions) *adapter.Task[empty, empty] {
	return adapter.NewTask(name, func(ctx context.Context, _ empty) (empty, error) { return empty{}, nil }, opts...)
}

// SPEC §6: definitions a worker refuses, each with a clear error.
func TestWorkerRefusesBadDefinitions(t *testing.T) {
	noop := func(context.Context, hooks.FlowCall) error { return nil }
	cases := []struct {
		name    string
		opts    worker.Options
		wantIs  error
		wantMsg string
	}{
		{"two flows with one name", worker.Options{Flows: flows(noopFlow("same"), noopFlow("same"))},
			worker.ErrDuplicateName, `flow "same" is given twice`},
		{"two tasks with one name", worker.Options{Tasks: tasks(noopTask("same"), noopTask("same"))},
			worker.ErrDuplicateName, `task "same" is given twice`},
		{"a flow and a plain workflow with one name", worker.Options{Flows: flows(noopFlow("same")), Workflows: map[string]adapter.FlowOptions{"same": {}}},
			worker.ErrDuplicateName, "both a flow and a plain workflow"},
		{"two hooks with one name", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{OnCompletion: []hooks.FlowHook{
			hooks.NewFlowHook("notify", noop), hooks.NewFlowHook("notify", noop)}}))},
			hooks.ErrDuplicateHook, `"notify" is defined twice`},
		{"negative flow retries", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{Retries: -1}))},
			adapter.ErrInvalidOptions, "retries must not be negative, got -1"},
		{"negative task retries", worker.Options{Tasks: tasks(noopTask("t", adapter.TaskOptions{Retries: -2}))},
			adapter.ErrInvalidOptions, "retries must not be negative, got -2"},
		{"negative fixed delay", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{RetryDelay: adapter.FixedDelay(-time.Second)}))},
			adapter.ErrInvalidOptions, "retry delay must not be negative, got -1s"},
		{"negative delay in a list", worker.Options{Tasks: tasks(noopTask("t", adapter.TaskOptions{RetryDelay: adapter.DelayList{time.Second, -time.Second}}))},
			adapter.ErrInvalidOptions, "retry delay 1 must not be negative"},
		{"negative backoff", worker.Options{Tasks: tasks(noopTask("t", adapter.TaskOptions{RetryDelay: adapter.ExponentialBackoff{Initial: -time.Second}}))},
			adapter.ErrInvalidOptions, "exponential backoff durations must not be negative"},
		{"negative jitter", worker.Options{Tasks: tasks(noopTask("t", adapter.TaskOptions{RetryJitterFactor: -0.5}))},
			adapter.ErrInvalidOptions, "jitter factor must not be negative"},
		{"negative timeout", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{Timeout: -time.Second}))},
			adapter.ErrInvalidOptions, "timeout must not be negative"},
		{"bad run name template", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{RunName: "{{.Params"}))},
			adapter.ErrInvalidOptions, "run name template"},
		{"hook with negative retry policy", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{OnFailure: []hooks.FlowHook{
			hooks.NewFlowHook("h", noop, hooks.Options{RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: -1}})}}))},
			adapter.ErrInvalidOptions, "retry policy values must not be negative"},
		{"unnamed hook", worker.Options{Flows: flows(noopFlow("f", adapter.FlowOptions{OnFailure: []hooks.FlowHook{hooks.NewFlowHook("", noop)}}))},
			adapter.ErrInvalidOptions, "a hook needs a name"},
		{"unnamed flow", worker.Options{Flows: flows(noopFlow(""))}, adapter.ErrInvalidOptions, "a flow needs a name"},
		{"flow named like flowstate's own", worker.Options{Flows: flows(noopFlow("flowstate.sweeper"))}, adapter.ErrInvalidOptions,
			`flow "flowstate.sweeper": names starting with "flowstate." are flowstate's own`},
		{"task named like flowstate's own", worker.Options{Tasks: tasks(noopTask("flowstate.hook"))}, adapter.ErrInvalidOptions,
			`task "flowstate.hook": names starting with "flowstate." are flowstate's own`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testsuite.TryNewEnv(t, tc.opts)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.wantIs)
			require.ErrorContains(t, err, tc.wantMsg)
		})
	}
}

// SPEC §6: a hook that is not registered on the worker that runs it fails with a clear error,
// recorded in the state history; the run's state is unchanged and later hooks still run.
func TestUnregisteredHookIsRecorded(t *testing.T) {
	j := &journal{}
	stranger := hooks.NewTaskHook("not-on-this-worker", func(context.Context, hooks.TaskCall) error { return nil })
	task := adapter.NewTask("fails", func(ctx context.Context, _ empty) (empty, error) { return empty{}, errors.New("boom") })
	f := adapter.NewFlow("attaches-late", func(ctx workflow.Context, _ empty) (string, error) {
		t2 := task.WithOptions(func(o *adapter.TaskOptions) {
			o.OnFailure = []hooks.TaskHook{stranger, j.taskHook("known", nil)}
		})
		_, st := t2.RunState(ctx, empty{})
		return st.Name, nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task), Hooks: []hooks.Definition{j.taskHook("known", nil)}})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	results := env.History().Hooks()
	require.Len(t, results, 2)
	require.Equal(t, hooks.HookFailed, results[0].Status)
	require.Contains(t, results[0].Error, `hook "not-on-this-worker" is not registered on this worker`)
	require.Contains(t, results[0].Error, "known")
	require.Equal(t, hooks.HookCompleted, results[1].Status)
	require.Equal(t, hooks.Completed, env.History().State.Type)
	require.Empty(t, env.CallsOf("not-on-this-worker"), "an unknown hook must not be scheduled")
}

// A hook whose bound arguments cannot be serialised fails clearly, recorded; the run goes on.
func TestUnserialisableBoundArgs(t *testing.T) {
	h := hooks.NewFlowHookWithArgs("with-chan", func(context.Context, hooks.FlowCall, chan int) error { return nil })
	bound := h.Bind(make(chan int))
	require.ErrorContains(t, bound.Err(), "not serialisable as JSON")

	f := noopFlow("bad-args")
	f2 := f.WithOptions(func(o *adapter.FlowOptions) { o.OnCompletion = []hooks.FlowHook{bound} })
	_, err := testsuite.TryNewEnv(t, worker.Options{Flows: flows(f2)})
	require.ErrorIs(t, err, adapter.ErrInvalidOptions)
	require.ErrorContains(t, err, "not serialisable as JSON")
}

// A task with invalid options fails the call clearly rather than running.
func TestInvalidTaskCalledFromFlow(t *testing.T) {
	task := noopTask("good")
	f := adapter.NewFlow("calls-bad", func(ctx workflow.Context, _ empty) (hooks.State, error) {
		bad := task.WithOptions(func(o *adapter.TaskOptions) { o.Retries = -3 })
		_, st := bad.RunState(ctx, empty{})
		return st, nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var st hooks.State
	require.NoError(t, env.GetWorkflowResult(&st))
	require.Equal(t, hooks.Failed, st.Type)
	require.Contains(t, st.Message, "retries must not be negative, got -3")
}
