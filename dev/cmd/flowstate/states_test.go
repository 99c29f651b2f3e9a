package main_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/worker"
)

// Every terminated flow run reads Crashed in `flowstate states`: a run of a flow without any hook,
// and a run terminated before any worker ran it (no error, no empty state names). A run whose
// workflow task keeps failing says why.
func TestStatesOfDeadAndStuckRuns(t *testing.T) {
	d := startDev(t, freePort(t))
	c, err := client.Dial(client.Options{HostPort: d.addr, Namespace: "default"})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	// A flow without hooks, on a worker of this test's own.
	sleeper := adapter.NewFlow("hookless-sleeper", func(ctx workflow.Context, _ struct{}) (string, error) {
		return "woke", workflow.Sleep(ctx, time.Hour)
	})
	w, err := worker.New(c, "states-test", worker.Options{Flows: []adapter.AnyFlow{sleeper}})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	run, err := sleeper.Start(t.Context(), c, client.StartWorkflowOptions{ID: "hookless-run", TaskQueue: "states-test"}, struct{}{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		h, err := run.History(t.Context())
		return err == nil && h.State.Name == "Running"
	}, time.Minute, 50*time.Millisecond)
	d.temporal(t, "workflow", "terminate", "--workflow-id", "hookless-run", "--reason", "pod evicted")
	out, err := d.flowstate(t, "states", "hookless-run")
	require.NoError(t, err, out)
	require.Contains(t, out, `Crashed("terminated: pod evicted`)
	require.Regexp(t, `flow hookless-sleeper +Running`, out)

	// A run no worker ever ran: its task queue has none.
	d.temporal(t, "workflow", "start", "--type", "nap-flow", "--task-queue", "nobody-serves-this",
		"--workflow-id", "never-ran", "--input", `{"seconds": 1}`)
	d.temporal(t, "workflow", "terminate", "--workflow-id", "never-ran", "--reason", "changed my mind")
	out, err = d.flowstate(t, "states", "never-ran")
	require.NoError(t, err, out)
	require.Contains(t, out, "Scheduled")
	require.Contains(t, out, `Crashed("terminated`)
	require.NotContains(t, out, `""`)

	// A workflow type no worker of the queue knows: its workflow task fails, again and again.
	d.temporal(t, "workflow", "start", "--type", "no-such-flow", "--task-queue", "flowstate-examples", "--workflow-id", "stuck")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		out, err = d.flowstate(t, "states", "stuck")
		if err != nil && strings.Contains(out, "keeps failing") || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	require.Error(t, err)
	require.Contains(t, out, "workflow task keeps failing")
	require.Contains(t, out, "no-such-flow")
	d.temporal(t, "workflow", "terminate", "--workflow-id", "stuck")
	d.stop(t)
}
