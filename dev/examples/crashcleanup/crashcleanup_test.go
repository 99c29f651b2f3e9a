package crashcleanup_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestOnCrashedDeletesTheJob(t *testing.T) {
	t.Setenv("FLOWSTATE_EXAMPLES_DIR", t.TempDir())
	effects.Reset()
	env := testsuite.NewEnv(t, worker.Options{
		Flows: []adapter.AnyFlow{crashcleanup.Flow},
		Tasks: []adapter.AnyTask{crashcleanup.CreateJob, crashcleanup.TaskThatCrashes},
	})
	env.ExecuteFlow(crashcleanup.Flow, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "Crashing on purpose!")

	h := env.History()
	require.Equal(t, hooks.Crashed, h.State.Type)
	require.Equal(t, "panic: Crashing on purpose!", h.State.Message)
	calls := env.CallsOf("delete-cloud-run-job")
	require.Len(t, calls, 1)
	require.NoError(t, calls[0].Err)

	job := crashcleanup.JobPath(h.WorkflowID)
	require.Equal(t, []string{"created job " + job, "on_crashed: deleted job " + job + ` (flow run ` + h.WorkflowID + ` entered Crashed("panic: Crashing on purpose!"))`},
		effects.Of(crashcleanup.Name))
	_, err := os.Stat(job)
	require.ErrorIs(t, err, os.ErrNotExist, "the job must be gone")
}
