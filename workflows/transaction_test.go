package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// trip is a saga's world: what each booking task did and what its hooks saw, in order.
type trip struct {
	mu   sync.Mutex
	log  []string
	data []string
}

func (tr *trip) add(line string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, line)
}

func (tr *trip) lines() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.log...)
}

// book is a task that books a resource, failing when asked to; its on_commit hook confirms the
// booking, its on_rollback hook cancels it (and fails when the resource is "sticky").
func (tr *trip) book() *adapter.Task[string, string] {
	confirm := hooks.NewTaskHook("confirm", func(_ context.Context, c hooks.TaskCall) error {
		var ref string
		_ = jsonUnmarshal(c.Run.Result, &ref)
		tr.add("commit " + ref)
		var who string
		if ok, _ := c.Tx.Lookup("traveller", &who); ok {
			tr.mu.Lock()
			tr.data = append(tr.data, c.Tx.ID+":"+who)
			tr.mu.Unlock()
		}
		return nil
	})
	release := hooks.NewTaskHook("release", func(_ context.Context, c hooks.TaskCall) error {
		var ref string
		_ = jsonUnmarshal(c.Run.Result, &ref)
		if strings.HasPrefix(ref, "sticky") {
			return fmt.Errorf("cannot release %s", ref)
		}
		tr.add("rollback " + ref + " (" + c.Tx.ID + ": " + c.Tx.Cause + ")")
		return nil
	}, hooks.Options{RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 2}})
	return adapter.NewTask("book", func(ctx context.Context, what string) (string, error) {
		if strings.HasPrefix(what, "fail") {
			return "", fmt.Errorf("no %s available", what)
		}
		tr.add("book " + what)
		return what + "-ref", nil
	}, adapter.TaskOptions{OnCommit: []hooks.TaskHook{confirm}, OnRollback: []hooks.TaskHook{release}})
}

// Committed: on_commit hooks run in the order the tasks completed, and read the transaction's data.
func TestTransactionCommits(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := adapter.NewFlow("commit-trip", func(ctx workflow.Context, _ empty) (string, error) {
		err := adapter.Transaction(ctx, "book-trip", func(ctx workflow.Context, tx *adapter.Tx) error {
			if err := tx.Set("traveller", "ada"); err != nil {
				return err
			}
			for _, what := range []string{"flight", "hotel", "car"} {
				if _, err := book.Run(ctx, what); err != nil {
					return err
				}
			}
			return nil
		})
		return "booked", err
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"book flight", "book hotel", "book car", "commit flight-ref", "commit hotel-ref", "commit car-ref"}, tr.lines())
	require.Equal(t, []string{"book-trip#1:ada", "book-trip#1:ada", "book-trip#1:ada"}, tr.data)
	h := env.History()
	require.Equal(t, []string{"Running", "Committed"}, h.StateNames("book-trip#1"))
}

// A failing task rolls back the tasks that completed before it, in reverse order; a rollback hook
// that gives up is recorded and the others still run; the error reaches the flow.
func TestTransactionRollsBack(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := adapter.NewFlow("rollback-trip", func(ctx workflow.Context, _ empty) (string, error) {
		return "", adapter.Transaction(ctx, "book-trip", func(ctx workflow.Context, tx *adapter.Tx) error {
			for _, what := range []string{"flight", "sticky-hotel", "car", "fail-train"} {
				if _, err := book.Run(ctx, what); err != nil {
					return err
				}
			}
			return nil
		})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "no fail-train available")
	require.Equal(t, []string{
		"book flight", "book sticky-hotel", "book car",
		"rollback car-ref (book-trip#1: no fail-train available)",
		"rollback flight-ref (book-trip#1: no fail-train available)",
	}, tr.lines())
	h := env.History()
	var rollbacks []string
	for _, r := range h.Hooks() {
		if r.Event == hooks.OnRollback {
			rollbacks = append(rollbacks, r.Hook+":"+string(r.Status))
		}
	}
	require.Equal(t, []string{"release:completed", "release:failed", "release:completed"}, rollbacks, "a failing rollback is recorded, the others run")
	states := h.States("book-trip#1")
	require.Equal(t, hooks.NameRolledBack, states[len(states)-1].Name)
	require.Equal(t, "no fail-train available", states[len(states)-1].Message)
}

// A task that fails inside a transaction rolls it back even when the flow handles the error.
func TestTransactionRollsBackOnHandledFailure(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := adapter.NewFlow("handled-trip", func(ctx workflow.Context, _ empty) (string, error) {
		err := adapter.Transaction(ctx, "book-trip", func(ctx workflow.Context, tx *adapter.Tx) error {
			book.Run(ctx, "flight")
			_, st := book.RunState(ctx, "fail-hotel")
			_ = st // handled
			return nil
		})
		var rb *adapter.RolledBackError
		if errors.As(err, &rb) {
			return "rolled back: " + rb.Cause.Message, nil
		}
		return "committed", err
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var out string
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, "rolled back: no fail-hotel available", out)
	require.Contains(t, tr.lines(), "rollback flight-ref (book-trip#1: a task in it ended Failed(\"no fail-hotel available\"))")
}

// Nested transactions: an inner one that commits hands its tasks to the outer one; when the outer
// one then rolls back, the inner one's tasks (which completed later) roll back first. An inner one
// that fails rolls back alone, and the outer one, handling its error, commits the rest.
func TestNestedTransactions(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := nestedTrip(book)

	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, true)
	require.Error(t, env.GetWorkflowError())
	require.Equal(t, []string{"book flight", "book hotel", "book spa",
		"rollback spa-ref (trip#1: no fail-car available)", "rollback hotel-ref (trip#1: no fail-car available)",
		"rollback flight-ref (trip#1: no fail-car available)"}, tr.lines())
	h := env.History()
	require.Equal(t, []string{"Running", "Committed"}, h.StateNames("stay#1"))
	require.Equal(t, []string{"Running", "RolledBack"}, h.StateNames("trip#1"))

	tr2 := &trip{}
	book2 := tr2.book()
	f2 := nestedTrip(book2)
	env = newEnv(t, worker.Options{Flows: flows(f2), Tasks: tasks(book2)})
	env.ExecuteFlow(f2, false)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"book flight", "book hotel", "book spa", "book tour",
		"rollback tour-ref (extras#1: no fail-show available)",
		"commit flight-ref", "commit hotel-ref", "commit spa-ref"}, tr2.lines())
}

// nestedTrip books a flight, then a stay (hotel and spa) in a nested transaction; then either a
// car that fails (failOuter) or extras in a nested transaction that fails and is handled.
func nestedTrip(book *adapter.Task[string, string]) *adapter.Flow[bool, string] {
	return adapter.NewFlow("nested-trip", func(ctx workflow.Context, failOuter bool) (string, error) {
		return "", adapter.Transaction(ctx, "trip", func(ctx workflow.Context, _ *adapter.Tx) error {
			if _, err := book.Run(ctx, "flight"); err != nil {
				return err
			}
			if err := adapter.Transaction(ctx, "stay", func(ctx workflow.Context, _ *adapter.Tx) error {
				if _, err := book.Run(ctx, "hotel"); err != nil {
					return err
				}
				_, err := book.Run(ctx, "spa")
				return err
			}); err != nil {
				return err
			}
			if !failOuter {
				_ = adapter.Transaction(ctx, "extras", func(ctx workflow.Context, _ *adapter.Tx) error {
					if _, err := book.Run(ctx, "tour"); err != nil {
						return err
					}
					_, err := book.Run(ctx, "fail-show")
					return err
				})
				return nil
			}
			_, err := book.Run(ctx, "fail-car")
			return err
		})
	})
}

// A flow cancelled inside a transaction rolls back what the transaction did, then ends Cancelled.
func TestTransactionRollsBackOnCancel(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	wait := adapter.NewTask("wait-for-payment", func(ctx context.Context, _ empty) (empty, error) {
		<-ctx.Done()
		return empty{}, ctx.Err()
	}, adapter.TaskOptions{HeartbeatTimeout: time.Second})
	f := adapter.NewFlow("cancelled-trip", func(ctx workflow.Context, _ empty) (string, error) {
		return "", adapter.Transaction(ctx, "book-trip", func(ctx workflow.Context, tx *adapter.Tx) error {
			if _, err := book.Run(ctx, "flight"); err != nil {
				return err
			}
			_, err := wait.Run(ctx, empty{})
			return err
		})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book, wait)})
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteFlow(f, nil)
	require.Error(t, env.GetWorkflowError())
	require.Equal(t, []string{"book flight", "rollback flight-ref (book-trip#1: canceled)"}, tr.lines())
	h := env.History()
	require.Equal(t, hooks.NameCancelled, h.State.Name)
}

// A panic in a transaction's function rolls it back, then the flow crashes.
func TestTransactionRollsBackOnPanic(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := adapter.NewFlow("panicking-trip", func(ctx workflow.Context, _ empty) (string, error) {
		return "", adapter.Transaction(ctx, "book-trip", func(ctx workflow.Context, tx *adapter.Tx) error {
			if _, err := book.Run(ctx, "flight"); err != nil {
				return err
			}
			panic("lost the itinerary")
		})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, nil)
	require.Error(t, env.GetWorkflowError())
	require.Equal(t, []string{"book flight", "rollback flight-ref (book-trip#1: the flow crashed: panic: lost the itinerary)"}, tr.lines())
	require.Equal(t, hooks.NameCrashed, env.History().State.Name)
}

// Bad input: a task with transaction hooks run outside any transaction is fine (nothing to roll
// back), and transaction data over the limit is a clear error.
func TestTransactionBadInput(t *testing.T) {
	tr := &trip{}
	book := tr.book()
	f := adapter.NewFlow("no-trip", func(ctx workflow.Context, _ empty) (string, error) {
		ref, err := book.Run(ctx, "flight")
		if err != nil {
			return "", err
		}
		err = adapter.Transaction(ctx, "big", func(ctx workflow.Context, tx *adapter.Tx) error {
			return tx.Set("blob", strings.Repeat("x", adapter.MaxTxDataSize+1))
		})
		if !errors.Is(err, adapter.ErrTxDataTooLarge) {
			return "", fmt.Errorf("want ErrTxDataTooLarge, got %v", err)
		}
		return ref + "; " + err.Error(), nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(book)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var out string
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Contains(t, out, "flight-ref; flowstate: transaction data too large")
	require.Equal(t, []string{"book flight"}, tr.lines(), "no commit or rollback outside a transaction")
}

func jsonUnmarshal(raw []byte, ptr any) error { return json.Unmarshal(raw, ptr) }
