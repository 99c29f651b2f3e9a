package taskstart_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/dev/examples/taskstart"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestOnRunningFiresThreeTimes(t *testing.T) {
	effects.Reset()
	env := testsuite.NewEnv(t, worker.Options{
		Flows: []adapter.AnyFlow{taskstart.Flow},
		Tasks: []adapter.AnyTask{taskstart.FlakyTask},
	})
	env.ExecuteFlow(taskstart.Flow, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "attempt 3 failed")

	calls := env.CallsOf("record-start-time")
	require.Len(t, calls, 3)
	for i, c := range calls {
		require.Equal(t, hooks.OnRunning, c.Event)
		require.Equal(t, i+1, c.TaskRun.Attempt)
	}
	require.Len(t, effects.Of(taskstart.Name), 3)
	h := env.History()
	require.Equal(t, []string{"Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"},
		h.StateNames(h.TaskRuns()[0]))
	require.Equal(t, hooks.Failed, h.State.Type)
}
