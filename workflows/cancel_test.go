package workflows_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// SPEC §4: cancelling a flow moves it to Cancelling, runs its on_cancellation hooks, then cancels
// the tasks in flight (their context is cancelled, their on_cancellation hooks run) and ends the
// flow Cancelled.
func TestCancellation(t *testing.T) {
	j := &journal{}
	var sawCancel atomic.Bool
	started := make(chan struct{}, 1)
	long := adapter.NewTask("long-task", func(ctx context.Context, _ empty) (empty, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			sawCancel.Store(true)
			return empty{}, ctx.Err()
		case <-time.After(20 * time.Second):
			return empty{}, errors.New("never cancelled")
		}
	}, adapter.TaskOptions{
		HeartbeatTimeout: time.Second,
		OnCancellation:   []hooks.TaskHook{j.taskHook("task-cancel", nil)},
	})
	f := adapter.NewFlow("cancellable", func(ctx workflow.Context, _ empty) (empty, error) {
		_, err := long.Run(ctx, empty{})
		return empty{}, err
	}, adapter.FlowOptions{
		OnCancellation: []hooks.FlowHook{j.flowHook("flow-cancel", nil)},
		OnFailure:      []hooks.FlowHook{j.flowHook("flow-fail", nil)},
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(long)})
	env.RegisterDelayedCallback(func() {
		<-started
		env.CancelWorkflow()
	}, time.Second)
	env.ExecuteFlow(f, nil)
	requireCompleted(t, env)
	var canceled *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceled)

	require.Equal(t, []string{
		"flow-cancel on_cancellation Cancelling",
		"task-cancel on_cancellation Cancelling/0",
	}, j.Lines())
	h := env.History()
	require.Equal(t, []string{"Scheduled", "Running", "Cancelling", "Cancelled"}, flowNames(h))
	require.Equal(t, []string{"Pending", "Cancelling", "Cancelled"}, h.StateNames(h.TaskRuns()[0]))
	require.Eventually(t, sawCancel.Load, 5*time.Second, 10*time.Millisecond, "the task never saw its context cancelled")
}
