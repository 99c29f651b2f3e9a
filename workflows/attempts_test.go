package workflows_test

import (
	"context"

	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// A task without on_running hooks is retried by the Temporal server; its state history still
// shows every attempt, with its number and error, and its terminal hook and TaskRunInfo see the
// real attempt. With an on_running hook (the workflow schedules the attempts) the task's states
// are the same, apart from the hook entries.
func TestEveryAttemptIsRecorded(t *testing.T) {
	for _, withHook := range []bool{false, true} {
		t.Run(fmt.Sprintf("on_running=%v", withHook), func(t *testing.T) {
			var mu sync.Mutex
			var seen []int
			var failedAt []int
			onFailure := hooks.NewTaskHook("record-failure", func(_ context.Context, c hooks.TaskCall) error {
				mu.Lock()
				defer mu.Unlock()
				failedAt = append(failedAt, c.State.Attempt, c.Run.Attempt)
				return nil
			})
			opts := adapter.TaskOptions{Retries: 3, RetryDelay: adapter.FixedDelay(time.Second), OnFailure: []hooks.TaskHook{onFailure}}
			if withHook {
				opts.OnRunning = []hooks.TaskHook{hooks.NewTaskHook("noop-running", func(context.Context, hooks.TaskCall) error { return nil })}
			}
			task := adapter.NewTask("flaky", func(ctx context.Context, _ empty) (string, error) {
				n := adapter.TaskRunInfo(ctx).Attempt
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
				return "", fmt.Errorf("attempt %d failed", n)
			}, opts)
			f := adapter.NewFlow("retrying", func(ctx workflow.Context, _ empty) (string, error) {
				return task.Run(ctx, empty{})
			})
			env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
			env.ExecuteFlow(f, nil)
			require.ErrorContains(t, env.GetWorkflowError(), "attempt 4 failed")
			require.Equal(t, []int{1, 2, 3, 4}, seen, "TaskRunInfo sees the real attempt")
			require.Equal(t, []int{4, 4}, failedAt, "on_failure sees the last attempt, in the state and the task run")

			h := env.History()
			run := h.TaskRuns()[0]
			require.Equal(t, []string{"Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"},
				h.StateNames(run))
			var attempts []int
			var errs []string
			for _, s := range h.States(run)[1:] {
				attempts = append(attempts, s.Attempt)
				if s.Name == hooks.NameAwaitingRetry || s.Name == hooks.NameFailed {
					errs = append(errs, s.Message)
				}
			}
			require.Equal(t, []int{1, 1, 2, 2, 3, 3, 4, 4}, attempts)
			require.Equal(t, []string{"attempt 1 failed", "attempt 2 failed", "attempt 3 failed", "attempt 4 failed"}, errs)
		})
	}
}

// A task that succeeds after retries without on_running hooks records its attempts too.
func TestServerRetriedTaskThatSucceeds(t *testing.T) {
	var mu sync.Mutex
	var doneAt int
	task := adapter.NewTask("eventually", func(ctx context.Context, _ empty) (string, error) {
		if n := adapter.TaskRunInfo(ctx).Attempt; n < 3 {
			return "", fmt.Errorf("attempt %d failed", n)
		}
		return "ok", nil
	}, adapter.TaskOptions{Retries: 5, OnCompletion: []hooks.TaskHook{hooks.NewTaskHook("done", func(_ context.Context, c hooks.TaskCall) error {
		mu.Lock()
		defer mu.Unlock()
		doneAt = c.State.Attempt
		return nil
	})}})
	f := adapter.NewFlow("eventually-flow", func(ctx workflow.Context, _ empty) (string, error) {
		return task.Run(ctx, empty{})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	out, err := resultOf[string](env)
	require.NoError(t, err)
	require.Equal(t, "ok", out, "the result reaches the flow unchanged")
	h := env.History()
	run := h.TaskRuns()[0]
	require.Equal(t, []string{"Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"}, h.StateNames(run))
	require.Equal(t, 3, h.States(run)[6].Attempt)
	require.Equal(t, 3, doneAt)
}

// TimedOut names only a run that passed its own timeout: a flow failed by a task that timed out
// is Failed, the task TimedOut.
func TestParentOfTimedOutTaskIsFailed(t *testing.T) {
	task := adapter.NewTask("slow", func(ctx context.Context, _ empty) (string, error) {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Second):
			return "late", nil
		}
	}, adapter.TaskOptions{Timeout: 200 * time.Millisecond})
	f := adapter.NewFlow("waits-for-slow", func(ctx workflow.Context, _ empty) (string, error) {
		return task.Run(ctx, empty{})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.Error(t, env.GetWorkflowError())
	h := env.History()
	require.Equal(t, hooks.NameTimedOut, h.States(h.TaskRuns()[0])[len(h.States(h.TaskRuns()[0]))-1].Name)
	require.Equal(t, hooks.NameFailed, h.State.Name)
	require.Equal(t, hooks.Failed, h.State.Type)
}

func resultOf[O any](env interface{ GetWorkflowResult(any) error }) (O, error) {
	var out O
	err := env.GetWorkflowResult(&out)
	return out, err
}
