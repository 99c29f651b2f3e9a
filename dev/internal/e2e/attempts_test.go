package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// On a real server, a task with retries=3 and no hooks, whose attempts the server schedules, has
// every attempt in its state history, with its number, error and start time, the retry delay
// visible between them; the same task with an on_running hook (its attempts scheduled by the
// flow) has the same states, apart from the hook entries.
func TestEveryAttemptOnServer(t *testing.T) {
	const delay = 300 * time.Millisecond
	for _, withHook := range []bool{false, true} {
		t.Run(fmt.Sprintf("on_running=%v", withHook), func(t *testing.T) {
			opts := adapter.TaskOptions{Retries: 3, RetryDelay: adapter.FixedDelay(delay)}
			if withHook {
				opts.OnRunning = []hooks.TaskHook{hooks.NewTaskHook(fmt.Sprintf("attempts-running-%v", withHook), func(context.Context, hooks.TaskCall) error { return nil })}
			}
			task := adapter.NewTask("attempts-flaky", func(ctx context.Context, _ empty) (string, error) {
				return "", fmt.Errorf("attempt %d failed", adapter.TaskRunInfo(ctx).Attempt)
			}, opts)
			f := adapter.NewFlow("attempts-flow", func(ctx workflow.Context, _ empty) (string, error) {
				return task.Run(ctx, empty{})
			})
			c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{task}})
			run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, empty{})
			require.NoError(t, err)
			_, err = run.Get(t.Context())
			require.ErrorContains(t, err, "attempt 4 failed")

			h, err := run.History(t.Context())
			require.NoError(t, err)
			id := h.TaskRuns()[0]
			require.Equal(t, []string{"Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"},
				h.StateNames(id), h.Timeline())
			states := h.States(id)
			var attempts []int
			var starts []time.Time
			for _, s := range states[1:] {
				attempts = append(attempts, s.Attempt)
				if s.Name == hooks.NameRunning || s.Name == hooks.NameRetrying {
					starts = append(starts, s.Timestamp)
				}
			}
			require.Equal(t, []int{1, 1, 2, 2, 3, 3, 4, 4}, attempts)
			require.Equal(t, "attempt 2 failed", states[4].Message)
			for i := 1; i < len(starts); i++ {
				require.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), delay, "attempt %d started a retry delay after attempt %d:\n%s", i+1, i, h.Timeline())
			}
			ran := 0
			for _, r := range h.Hooks() {
				if r.Event == hooks.OnRunning {
					ran++
				}
			}
			if withHook {
				require.Equal(t, 4, ran, "on_running before each attempt")
			} else {
				require.Zero(t, ran)
			}
		})
	}
}
