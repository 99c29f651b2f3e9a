package devtest_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/dev/devserver/devtest"
)

func TestMain(m *testing.M) { devtest.Main(m) }

func Echo(_ workflow.Context, s string) (string, error) { return s, nil }

func TestShared(t *testing.T) {
	first := devtest.Shared(t)
	for _, name := range []string{"one", "two"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := devtest.Shared(t)
			require.Same(t, first, srv, "one server per test binary")

			c := devtest.NewClient(t, srv)
			tq := devtest.TaskQueue(t)
			w := worker.New(c, tq, worker.Options{})
			w.RegisterWorkflow(Echo)
			require.NoError(t, w.Start())
			t.Cleanup(w.Stop)

			run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq}, Echo, name)
			require.NoError(t, err)
			var out string
			require.NoError(t, run.Get(t.Context(), &out))
			require.Equal(t, name, out)
		})
	}
}

func TestTaskQueueIsUnique(t *testing.T) {
	require.NotEqual(t, devtest.TaskQueue(t), devtest.TaskQueue(t))
}
