package main_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/testcodec"
	"github.com/flowstate/flowstate/hooks"
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

// A run whose payloads an encrypting codec encodes: flowstate states reads it through the codec
// server that the Temporal CLI and Web UI use (--codec-endpoint, or $TEMPORAL_CODEC_ENDPOINT), and
// without one says what it lacks.
func TestStatesThroughCodecServer(t *testing.T) {
	d := startDev(t, freePort(t))
	dc := testcodec.DataConverter()
	c, err := client.Dial(client.Options{HostPort: d.addr, Namespace: "default", DataConverter: dc})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	const secret = "acct-77c1-plaintext"
	done := hooks.NewFlowHook("sealed-done", func(ctx context.Context, call hooks.FlowCall) error { return nil })
	sealed := adapter.NewFlow("sealed-flow", func(ctx workflow.Context, account string) (string, error) {
		return "sealed", adapter.SetRunData(ctx, "account", account)
	}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{done}})
	w, err := worker.New(c, "codec-test", worker.Options{Flows: []adapter.AnyFlow{sealed}, DataConverter: dc})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	run, err := sealed.Start(t.Context(), c, client.StartWorkflowOptions{ID: "sealed-run", TaskQueue: "codec-test"}, secret)
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.NoError(t, err)

	out, err := d.flowstate(t, "states", "sealed-run")
	require.Error(t, err, "without the codec the history cannot be read")
	require.Contains(t, out, "--codec-endpoint")

	codecServer := httptest.NewServer(converter.NewPayloadCodecHTTPHandler(testcodec.NewAES()))
	t.Cleanup(codecServer.Close)
	out, err = d.flowstate(t, "states", "sealed-run", "--codec-endpoint", codecServer.URL)
	require.NoError(t, err, out)
	require.Contains(t, out, "flow sealed-flow, workflow ID sealed-run")
	require.Contains(t, out, "Completed")
	require.Contains(t, out, "sealed-done")

	t.Setenv("TEMPORAL_CODEC_ENDPOINT", codecServer.URL)
	out, err = d.flowstate(t, "states", "sealed-run", "--json")
	require.NoError(t, err, out)
	require.Contains(t, out, secret, "the run data, decoded")
	d.stop(t)
}
