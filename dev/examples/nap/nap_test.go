package nap_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/dev/examples/nap"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func newEnv(t *testing.T) *testsuite.Env {
	t.Helper()
	effects.Reset()
	return testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{nap.Flow}, Tasks: []adapter.AnyTask{nap.Nap}})
}

func TestNapCompletes(t *testing.T) {
	env := newEnv(t)
	env.ExecuteFlow(nap.Flow, nap.Params{Seconds: 0.05})
	out, err := testsuite.Result[string](env)
	require.NoError(t, err)
	require.Equal(t, "slept 50ms", out)

	h := env.History()
	require.Equal(t, hooks.NameCompleted, h.State.Name)
	require.Len(t, env.CallsOf("woke-up"), 1)
	require.Empty(t, env.CallsOf("woken-early"))
	require.Empty(t, env.CallsOf("never-woke"))
	effs := effects.Of(nap.Name)
	require.Len(t, effs, 1)
	require.Contains(t, effs[0], "on_completion: flow run "+h.WorkflowID+" woke up")
}

// Cancelled mid-nap: the flow's on_cancellation hook runs, the task is cancelled, the run ends
// Cancelled, and neither on_completion nor on_crashed runs.
func TestNapCancelled(t *testing.T) {
	env := newEnv(t)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteFlow(nap.Flow, nap.Params{Seconds: 30})
	var canceled *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceled)

	h := env.History()
	require.Equal(t, hooks.NameCancelled, h.State.Name)
	require.Equal(t, []string{"Scheduled", "Running", "Cancelling", "Cancelled"}, h.StateNames(h.WorkflowID))
	require.Equal(t, []string{"Pending", "Cancelling", "Cancelled"}, h.StateNames(h.TaskRuns()[0]))
	calls := env.CallsOf("woken-early")
	require.Len(t, calls, 1)
	require.Equal(t, hooks.OnCancellation, calls[0].Event)
	require.Empty(t, env.CallsOf("woke-up"))
	require.Empty(t, env.CallsOf("never-woke"))
	require.Equal(t, []string{"on_cancellation: flow run " + h.WorkflowID + " was woken before its time"}, effects.Of(nap.Name))
}
