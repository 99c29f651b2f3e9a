package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// Task code attaches data to its flow run (a signal to the flow's workflow); the flow's hooks see
// it, even when the task crashes right after.
func TestSetRunDataFromTask(t *testing.T) {
	var mu sync.Mutex
	var seen hooks.FlowRun
	onCrash := hooks.NewFlowHook("task-data-crash", func(ctx context.Context, c hooks.FlowCall) error {
		mu.Lock()
		defer mu.Unlock()
		seen = c.Run
		return nil
	})
	provision := adapter.NewTask("provision-then-crash", func(ctx context.Context, _ empty) (empty, error) {
		if err := adapter.SetRunDataFromTask(ctx, "vm", "vm-1234"); err != nil {
			return empty{}, err
		}
		panic("lost the VM")
	})
	f := adapter.NewFlow("task-data", func(ctx workflow.Context, _ empty) (empty, error) {
		_, err := provision.Run(ctx, empty{})
		return empty{}, err
	}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{onCrash}})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{provision}})

	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, empty{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "lost the VM")
	mu.Lock()
	var vm string
	ok, lerr := seen.Lookup("vm", &vm)
	mu.Unlock()
	require.NoError(t, lerr)
	require.True(t, ok, "the hook must see the data the task attached")
	require.Equal(t, "vm-1234", vm)

	h, err := run.History(t.Context())
	require.NoError(t, err)
	require.Equal(t, hooks.Crashed, h.State.Type)
	require.JSONEq(t, `"vm-1234"`, string(h.Data["vm"]))
}

// On a server where FlowState is not registered, flows still run, with their state history in
// the memo, and the worker says once, clearly, how to register it.
func TestWithoutSearchAttribute(t *testing.T) {
	srv, err := devserver.Start(t.Context(), devserver.Options{SearchAttributes: map[string]enumspb.IndexedValueType{}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := srv.NewClient(t.Context(), client.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	f := adapter.NewFlow("memo-only", func(ctx workflow.Context, _ empty) (string, error) {
		return "", errors.New("still recorded")
	}, adapter.FlowOptions{Retries: 1, RetryDelay: adapter.FixedDelay(time.Millisecond)})
	w, err := worker.New(c, "memo-only", worker.Options{Flows: []adapter.AnyFlow{f}, Logger: logger})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	require.Equal(t, 1, strings.Count(logs.String(), "search attribute is not used"), logs.String())
	require.Contains(t, logs.String(), "temporal operator search-attribute create --namespace default --name FlowState --type Keyword")

	// Started by type name and through Flow.Start (which falls back to starting without it).
	byName, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: "memo-only"}, "memo-only", nil)
	require.NoError(t, err)
	require.Error(t, byName.Get(t.Context(), nil))
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: "memo-only"}, empty{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "still recorded")
	for _, id := range []string{byName.GetID(), run.ID()} {
		h, err := adapter.ReadHistory(t.Context(), c, id, "")
		require.NoError(t, err)
		require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Failed"}, h.StateNames(id))
	}
}
