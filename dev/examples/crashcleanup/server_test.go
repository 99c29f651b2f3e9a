package crashcleanup_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }

// The example end to end on a real Temporal server in the test process: the task's panic
// crashes the flow run, on_crashed deletes the job the run recorded, and the closed run's state
// history (from its memo) and its FlowState search attribute say Crashed.
func TestOnCrashedDeletesTheJobOnARealServer(t *testing.T) {
	t.Setenv("FLOWSTATE_EXAMPLES_DIR", t.TempDir())
	c := flowstatetest.NewClient(t)
	w := flowstatetest.StartWorker(t, c, worker.Options{
		Flows: []adapter.AnyFlow{crashcleanup.Flow},
		Tasks: []adapter.AnyTask{crashcleanup.CreateJob, crashcleanup.TaskThatCrashes},
	})

	run, err := crashcleanup.Flow.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, struct{}{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "Crashing on purpose!")

	// The hook ran before the run closed, and cleaned up.
	job := crashcleanup.JobPath(run.ID())
	var ofRun []string
	for _, e := range effects.Of(crashcleanup.Name) {
		if strings.Contains(e, run.ID()) {
			ofRun = append(ofRun, e)
		}
	}
	require.Equal(t, []string{
		"created job " + job,
		"on_crashed: deleted job " + job + " (flow run " + run.ID() + ` entered Crashed("panic: Crashing on purpose!"))`,
	}, ofRun)
	_, err = os.Stat(job)
	require.ErrorIs(t, err, os.ErrNotExist, "the job must be gone")

	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), run.RunID())
	require.NoError(t, err)
	require.Equal(t, hooks.Crashed, h.State.Type)
	require.Equal(t, "panic: Crashing on purpose!", h.State.Message)
	require.Equal(t, []string{"Scheduled", "Running", "Crashed"}, h.StateNames(h.WorkflowID))
	require.JSONEq(t, fmt.Sprintf("%q", run.ID()), string(h.Data[crashcleanup.DataKey]))
	tasks := h.TaskRuns()
	require.Len(t, tasks, 2)
	require.Equal(t, []string{"Pending", "Running", "Completed"}, h.StateNames(tasks[0]))
	crashed := h.States(tasks[1])
	require.NotEmpty(t, crashed)
	require.Equal(t, hooks.Crashed, crashed[len(crashed)-1].Type, "%s ends Crashed", tasks[1])
	calls := h.Hooks()
	require.Len(t, calls, 1)
	require.Equal(t, "delete-cloud-run-job", calls[0].Hook)
	require.Equal(t, hooks.OnCrashed, calls[0].Event)
	require.Equal(t, hooks.HookCompleted, calls[0].Status)

	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("FlowState = 'Crashed' AND WorkflowId = '%s'", run.ID()),
		})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 50*time.Millisecond, "the run is found by its FlowState")
}
