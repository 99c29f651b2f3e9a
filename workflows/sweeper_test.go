package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/workflows"
)

// fakeSweep stands for the sweep activity: it records its inputs, and returns what next says,
// or, when next returns nothing, waits for its cancellation and returns its position.
type fakeSweep struct {
	mu     sync.Mutex
	inputs []workflows.SweepInput
	next   func(n int, in workflows.SweepInput) *workflows.SweepResult
}

func (f *fakeSweep) sweep(ctx context.Context, in workflows.SweepInput) (workflows.SweepResult, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	n := len(f.inputs)
	f.mu.Unlock()
	if f.next != nil {
		if res := f.next(n, in); res != nil {
			return *res, nil
		}
	}
	select {
	case <-ctx.Done():
		st := in.State
		st.Cursor = st.Cursor.Add(time.Duration(n) * time.Second) // where this scan got to
		return workflows.SweepResult{}, temporal.NewCanceledError(st)
	case <-time.After(time.Minute):
		return workflows.SweepResult{}, errors.New("never cancelled")
	}
}

func (f *fakeSweep) got() []workflows.SweepInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]workflows.SweepInput(nil), f.inputs...)
}

func sweeperEnv(t *testing.T, f *fakeSweep) *sdktestsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite sdktestsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.Sweeper, workflow.RegisterOptions{Name: workflows.SweeperWorkflow})
	env.RegisterActivityWithOptions(f.sweep, activity.RegisterOptions{Name: workflows.SweepActivity})
	return env
}

// A rolling deploy: worker A runs flow type X on queue q1; worker B, of the new version, also runs
// Y, on q2. The scan watches the union, whichever worker runs it, and reconciles what B brought
// at once; A registering again with what it had changes nothing.
func TestSweeperWatchesTheUnionOfTheWorkers(t *testing.T) {
	f := &fakeSweep{}
	env := sweeperEnv(t, f)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := workflows.SweeperWorker{Identity: "a", Queues: map[string][]string{"q1": {"X"}}, Registered: start}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.RegisterSignal, workflows.Registration{Identity: "b", TaskQueue: "q2", FlowTypes: []string{"Y", "X"}})
	}, 100*time.Millisecond)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.RegisterSignal, workflows.Registration{Identity: "a", TaskQueue: "q1", FlowTypes: []string{"X"}})
	}, 500*time.Millisecond)
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Second)
	env.ExecuteWorkflow(workflows.SweeperWorkflow, workflows.SweeperInput{
		Workers: []workflows.SweeperWorker{a},
		State:   workflows.SweepState{Cursor: start},
	})
	require.True(t, env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceled, "the sweeper ends only when cancelled")

	in := f.got()
	require.Len(t, in, 2, "one scan, restarted once when the watch grew: %+v", in)
	require.Equal(t, []workflows.Watch{{TaskQueues: []string{"q1"}, FlowTypes: []string{"X"}}}, in[0].Watch)
	require.Empty(t, in[0].State.Reconcile)
	require.Equal(t, []workflows.Watch{
		{TaskQueues: []string{"q1"}, FlowTypes: []string{"X"}},
		{TaskQueues: []string{"q2"}, FlowTypes: []string{"X", "Y"}},
	}, in[1].Watch)
	require.Equal(t, []workflows.Watch{{TaskQueues: []string{"q2"}, FlowTypes: []string{"X", "Y"}}}, in[1].State.Reconcile,
		"what B brought is reconciled at once")
	// (The SDK's test environment drops the details of a cancelled activity: that the new scan goes
	// on from where the cancelled one got to is shown on a real server, dev/internal/chaos
	// scenario 26.)
	require.Len(t, in[1].Workers, 2)
}

// A worker the scan found gone is forgotten, and its flow types leave the watch unless another
// live worker runs them; one that registered again since the scan looked is kept.
func TestSweeperForgetsWorkersThatAreGone(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var env *sdktestsuite.TestWorkflowEnvironment
	f := &fakeSweep{next: func(n int, in workflows.SweepInput) *workflows.SweepResult {
		if n == 1 {
			return &workflows.SweepResult{State: in.State, Gone: []string{"b", "c"}, CheckedAt: start.Add(-time.Minute)}
		}
		return nil
	}}
	env = sweeperEnv(t, f)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteWorkflow(workflows.SweeperWorkflow, workflows.SweeperInput{Workers: []workflows.SweeperWorker{
		{Identity: "a", Queues: map[string][]string{"q1": {"X"}}, Registered: start.Add(-time.Hour)},
		{Identity: "b", Queues: map[string][]string{"q1": {"X"}, "q2": {"Y"}}, Registered: start.Add(-time.Hour)},
		{Identity: "c", Queues: map[string][]string{"q3": {"Z"}}, Registered: start},
	}})
	require.True(t, env.IsWorkflowCompleted())

	in := f.got()
	require.Len(t, in, 2, "%+v", in)
	require.Len(t, in[0].Watch, 3)
	ids := []string{}
	for _, w := range in[1].Workers {
		ids = append(ids, w.Identity)
	}
	require.Equal(t, []string{"a", "c"}, ids, "b is gone; c registered after the scan looked")
	require.Equal(t, []workflows.Watch{
		{TaskQueues: []string{"q1"}, FlowTypes: []string{"X"}},
		{TaskQueues: []string{"q3"}, FlowTypes: []string{"Z"}},
	}, in[1].Watch, "Y on q2 was b's alone")
}

// Recorded sweeper histories replay on this code (dev/internal/chaos/sweeperhistories records
// them): the namespace's sweeper open after a second worker's registration restarted its scan, and
// cancelled; and the per-queue sweeper of flowstate v0.2, recorded at commit b11fe05 before the
// namespace's sweeper replaced it, on LegacySweeper, registered under its old type.
func TestSweeperHistoriesReplay(t *testing.T) {
	for _, name := range []string{"crash-sweeper-open", "crash-sweeper-cancelled", "legacy-open", "legacy-cancelled"} {
		t.Run(name, func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.Sweeper, workflow.RegisterOptions{Name: workflows.SweeperWorkflow})
			r.RegisterWorkflowWithOptions(workflows.LegacySweeper, workflow.RegisterOptions{Name: workflows.LegacySweeperWorkflow})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/sweeper/"+name+".json"))
		})
	}
}

// An old sweeper whose scan comes to a new worker completes: the new worker's scan activity of the
// old type returns at once.
func TestLegacySweeperCompletesOnANewWorker(t *testing.T) {
	var suite sdktestsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.LegacySweeper, workflow.RegisterOptions{Name: workflows.LegacySweeperWorkflow})
	env.RegisterActivityWithOptions(activities.NewSweeper(nil, nil).LegacySweep, activity.RegisterOptions{Name: workflows.LegacySweepActivity})
	env.ExecuteWorkflow(workflows.LegacySweeperWorkflow, workflows.LegacySweepInput{TaskQueue: "q1", Interval: time.Second})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
}
