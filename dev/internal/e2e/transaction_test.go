package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// On a real server: a task sets data on its transaction and a later task reads it; an
// on_rollback hook added to the task after its definition, and another on a WithOptions copy,
// each undo their own call, in reverse order, and see the data the tasks set and their results.
func TestTransactionDataFromTasksAndHooksAddedLater(t *testing.T) {
	var mu sync.Mutex
	var log []string
	undoHook := func(name string) hooks.TaskHook {
		return hooks.NewTaskHook(name, func(_ context.Context, c hooks.TaskCall) error {
			var seat, result string
			if _, err := c.Tx.Lookup("seat-first", &seat); err != nil {
				return err
			}
			if err := json.Unmarshal(c.Run.Result, &result); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			log = append(log, fmt.Sprintf("%s %s: %s (seat-first=%s; %s)", name, c.Run.ID, result, seat, c.Tx.Cause))
			return nil
		})
	}
	reserve := adapter.NewTask("tx-reserve", func(ctx context.Context, what string) (string, error) {
		if what == "first" {
			return "seat-1", adapter.SetTxDataFromTask(ctx, "seat-first", "seat-1")
		}
		var seat string
		ok, err := adapter.TxData(ctx, "seat-first", &seat)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errors.New("the first seat is not in the transaction")
		}
		return "next to " + seat, nil
	})
	reserve.OnRollback(undoHook("tx-undo"))
	undoSpecial := undoHook("tx-undo-special")
	special := reserve.WithOptions(func(o *adapter.TaskOptions) { o.OnRollback = []hooks.TaskHook{undoSpecial} })
	f := adapter.NewFlow("tx-seats", func(ctx workflow.Context, _ empty) (string, error) {
		var second string
		err := adapter.Transaction(ctx, "seats", func(ctx workflow.Context, _ *adapter.Tx) error {
			if _, err := reserve.Run(ctx, "first"); err != nil {
				return err
			}
			s, err := special.Run(ctx, "second")
			second = s
			if err != nil {
				return err
			}
			return errors.New("changed my mind")
		})
		return second, err
	})
	// A hook attached on a WithOptions copy is listed in Hooks, as for every event.
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{reserve}, Hooks: []hooks.Definition{undoSpecial}})
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, empty{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "changed my mind")

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"tx-undo-special tx-reserve#2: next to seat-1 (seat-first=seat-1; changed my mind)",
		"tx-undo tx-reserve#1: seat-1 (seat-first=seat-1; changed my mind)",
	}, log)
}
