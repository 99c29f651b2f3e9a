package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// A plain Temporal workflow and activity, written with the SDK alone: flowstate attaches hooks
// to them by type name, without touching their code.
func ChargeCard(ctx context.Context, amount int) (string, error) {
	if amount > 100 {
		return "", errors.New("card declined")
	}
	return "receipt-1", nil
}

func OrderWorkflow(ctx workflow.Context, amount int) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 2, InitialInterval: time.Millisecond},
	})
	var receipt string
	err := workflow.ExecuteActivity(ctx, ChargeCard, amount).Get(ctx, &receipt)
	return receipt, err
}

func TestHooksOnPlainTemporalWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount int
		want   []string
	}{
		{"completes", 10, []string{
			"task-run on_running Running/1", "charged on_completion Completed/1", "order-ok on_completion Completed",
		}},
		{"fails", 500, []string{
			"task-run on_running Running/1", "task-run on_running Retrying/2", "charge-failed on_failure Failed/2",
			"order-failed on_failure Failed",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			env := newEnv(t, worker.Options{
				Workflows: map[string]adapter.FlowOptions{"OrderWorkflow": {
					OnCompletion: []hooks.FlowHook{j.flowHook("order-ok", nil)},
					OnFailure:    []hooks.FlowHook{j.flowHook("order-failed", nil)},
				}},
				Activities: map[string]adapter.TaskOptions{"ChargeCard": {
					OnRunning:    []hooks.TaskHook{j.taskHook("task-run", nil)},
					OnCompletion: []hooks.TaskHook{j.taskHook("charged", nil)},
					OnFailure:    []hooks.TaskHook{j.taskHook("charge-failed", nil)},
				}},
			})
			env.RegisterWorkflow(OrderWorkflow)
			env.RegisterActivity(ChargeCard)
			env.ExecuteWorkflow(OrderWorkflow, tc.amount)
			requireCompleted(t, env)
			require.Equal(t, tc.want, j.Lines())
			h := env.History()
			require.Equal(t, "OrderWorkflow", h.Flow)
			require.Len(t, h.TaskRuns(), 1)
		})
	}
}

// A plain activity with hooks by name runs its hooks even when called from a plain workflow that
// has no hooks of its own, and its retry policy is still Temporal's.
func TestActivityHooksInUnmanagedWorkflow(t *testing.T) {
	j := &journal{}
	env := newEnv(t, worker.Options{
		Activities: map[string]adapter.TaskOptions{"ChargeCard": {OnFailure: []hooks.TaskHook{j.taskHook("charge-failed", nil)}}},
	})
	var attempts int
	env.RegisterWorkflow(OrderWorkflow)
	env.RegisterActivityWithOptions(func(ctx context.Context, amount int) (string, error) {
		attempts = int(activity.GetInfo(ctx).Attempt)
		return ChargeCard(ctx, amount)
	}, activity.RegisterOptions{Name: "ChargeCard"})
	env.ExecuteWorkflow(OrderWorkflow, 500)
	require.ErrorContains(t, env.GetWorkflowError(), "card declined")
	require.Equal(t, 2, attempts)
	require.Len(t, j.task, 1)
	require.Equal(t, "card declined", j.task[0].State.Message)
}
