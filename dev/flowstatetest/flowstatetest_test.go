package flowstatetest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }

var double = adapter.NewTask("double", func(ctx context.Context, n int) (int, error) { return 2 * n, nil })

var doubleFlow = adapter.NewFlow("double-flow", func(ctx workflow.Context, n int) (int, error) {
	return double.Run(ctx, n)
})

// In-memory tests (flowstate's testsuite) and real-server tests share a test binary: the first
// flow of the in-memory environment does not hash the executable, which the Temporal server makes
// large, inside workflow code, where the SDK's deadlock detector would stop it. This test runs
// first, before any worker of a real server has computed that hash.
func TestInMemoryEnvironmentInTheSameBinary(t *testing.T) {
	env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{doubleFlow}, Tasks: []adapter.AnyTask{double}})
	env.ExecuteFlow(doubleFlow, 4)
	require.NoError(t, env.GetWorkflowError())
	var out int
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, 8, out)
	h := env.History()
	require.Equal(t, []string{"Scheduled", "Running", "Completed"}, h.StateNames(h.WorkflowID))
}

// Tests of one binary share one server, each with a task queue of its own.
func TestSharedServer(t *testing.T) {
	first := flowstatetest.Shared(t)
	for i, name := range []string{"one", "two", "three"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Same(t, first, flowstatetest.Shared(t), "one server per test binary")
			c := flowstatetest.NewClient(t)
			w := flowstatetest.StartWorker(t, c, worker.Options{Flows: []adapter.AnyFlow{doubleFlow}, Tasks: []adapter.AnyTask{double}})

			run, err := doubleFlow.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, i)
			require.NoError(t, err)
			out, err := run.Get(t.Context())
			require.NoError(t, err)
			require.Equal(t, 2*i, out)
			h, err := run.History(t.Context())
			require.NoError(t, err)
			require.Equal(t, []string{"Scheduled", "Running", "Completed"}, h.StateNames(h.WorkflowID))
		})
	}
}

// Echo is a plain Temporal workflow.
func Echo(_ workflow.Context, s string) (string, error) {
	if s == "" {
		return "", errors.New("nothing to echo")
	}
	return s, nil
}

// The register functions of StartWorker register plain workflows before the worker starts, and
// the hooks that the worker's options attach to them run.
func TestStartWorkerRegistersPlainWorkflows(t *testing.T) {
	failed := make(chan hooks.State, 1)
	alert := hooks.NewFlowHook("alert", func(ctx context.Context, c hooks.FlowCall) error {
		failed <- c.State
		return nil
	})
	c := flowstatetest.NewClient(t)
	w := flowstatetest.StartWorker(t, c, worker.Options{
		Workflows: map[string]adapter.FlowOptions{"Echo": {OnFailure: []hooks.FlowHook{alert}}},
	}, func(r sdkworker.Registry) { r.RegisterWorkflow(Echo) })

	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, Echo, "")
	require.NoError(t, err)
	require.ErrorContains(t, run.Get(t.Context(), nil), "nothing to echo")
	select {
	case s := <-failed:
		require.Equal(t, hooks.Failed, s.Type)
		require.Equal(t, "nothing to echo", s.Message)
	default:
		t.Fatal("the on_failure hook did not run before the run closed")
	}
}

// A server of the test's own, with a namespace other than "default": clients connect to it, and
// the worker finds the FlowState search attribute there and keeps it current.
func TestNewServer(t *testing.T) {
	srv := flowstatetest.NewServer(t, devserver.Options{Namespaces: []string{"flows", "other"}})
	require.NotSame(t, flowstatetest.Shared(t), srv)
	require.Equal(t, "flows", srv.Namespace())
	require.Equal(t, []string{"flows", "other"}, srv.DevServer().Namespaces())

	c := srv.NewClient(t, client.Options{})
	w := flowstatetest.StartWorker(t, c, worker.Options{Flows: []adapter.AnyFlow{doubleFlow}, Tasks: []adapter.AnyTask{double}})
	run, err := doubleFlow.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, 21)
	require.NoError(t, err)
	out, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, 42, out)

	query := fmt.Sprintf("FlowState = 'Completed' AND WorkflowId = '%s'", run.ID())
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: "flows", Query: query})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 50*time.Millisecond, "the run is found by its FlowState in namespace flows")
}

func TestTaskQueueIsUnique(t *testing.T) {
	a, b := flowstatetest.TaskQueue(t), flowstatetest.TaskQueue(t)
	require.NotEqual(t, a, b)
	require.Contains(t, a, "TestTaskQueueIsUnique")
}
