package chaos_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/hooks"
)

// The transaction scenarios: a flow books three resources in one transaction (files, which the
// booking task's on_rollback hook removes); whichever way the run ends before the transaction
// commits, each booked resource is released once, the last booked first.

// startTx starts the transaction flow.
func (e *env) startTx(id string, in chaosflows.TxInput) {
	e.t.Helper()
	_, err := chaosflows.TxFlow.Start(e.t.Context(), e.c, client.StartWorkflowOptions{ID: id, TaskQueue: e.queue}, in)
	require.NoError(e.t, err)
}

// released requires that resources 2 and 1 of the run were released, once each and in that
// order, that their files are gone, and that the history records the rollback; it returns the
// releases' effects.
func (e *env) released(id string, h hooks.History) []chaosflows.Effect {
	e.t.Helper()
	rel := e.effects(id)[chaosflows.ReleaseHook]
	require.Len(e.t, rel, 2, "one release per booked resource")
	slices.SortFunc(rel, func(a, b chaosflows.Effect) int { return a.At.Compare(b.At) })
	require.Equal(e.t, []string{"chaos.book#2", "chaos.book#1"}, []string{rel[0].TaskRun, rel[1].TaskRun}, "the last booked is released first")
	for r := 1; r <= 3; r++ {
		_, err := os.Stat(chaosflows.BookingPath(e.dir, id, r))
		require.ErrorIs(e.t, err, os.ErrNotExist, "resource %d of %s is still booked", r, id)
	}
	var rollbacks []string
	for _, en := range h.Entries {
		if en.Hook != nil && en.Hook.Event == hooks.OnRollback {
			rollbacks = append(rollbacks, en.Run+":"+string(en.Hook.Status))
		}
	}
	require.Equal(e.t, []string{"chaos.book#2:completed", "chaos.book#1:completed"}, rollbacks, h.Timeline())
	require.Equal(e.t, hooks.NameRolledBack, lastState(e.t, h, "booking#1").Name, h.Timeline())
	return rel
}

var (
	txFailThird = scenario{
		name:     "30. transaction: the third booking fails",
		expected: "bookings 2 and 1 released once each, in that order; the flow Failed with the booking's error",
		expect:   map[string]int{chaosflows.ReleaseHook: 2, flowFailure: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startTx(id, chaosflows.TxInput{Mode: chaosflows.TxFailThird})
			status, err := e.waitClosed(id)
			require.ErrorContains(t, err, "resource 3 cannot be booked")
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, status)
			h := e.history(id)
			require.Equal(t, hooks.Failed, h.State.Type, h.Timeline())
			rel := e.released(id, h)
			require.Contains(t, rel[0].Message, "resource 3 cannot be booked", "the hook sees why the transaction rolled back")
			r.observe("flow %s; released %s then %s", h.State.Name, rel[0].TaskRun, rel[1].TaskRun)
		},
	}
	txTerminate = scenario{
		name:     "31. transaction: temporal workflow terminate mid-transaction, no worker up",
		expected: "after a worker starts, the crash handler releases bookings 2 and 1 once each, then the flow's on_crashed",
		expect:   map[string]int{chaosflows.ReleaseHook: 2, flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startTx(id, chaosflows.TxInput{Mode: chaosflows.TxBlockThird})
			e.waitMarker(id, chaosflows.TaskStarted)
			a.Kill()
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos: mid-transaction")
			time.Sleep(2 * sweepInterval)
			require.Empty(t, e.effects(id), "nothing can run while no worker is up")
			back := time.Now()
			e.startWorker()
			h := e.crashHandler(id, e.runID(id))
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			rel := e.released(id, h)
			require.Contains(t, rel[0].Message, "mid-transaction", "the hook sees the termination's reason")
			crashed := e.effects(id)[flowCrashed]
			require.Len(t, crashed, 1)
			require.True(t, crashed[0].At.After(rel[1].At), "the transaction rolls back before on_crashed runs")
			r.observe("released %s then %s %s after the worker started", rel[0].TaskRun, rel[1].TaskRun, rel[1].At.Sub(back).Round(10*time.Millisecond))
		},
	}
	txKillMidRollback = scenario{
		name:     "32. transaction: SIGKILL mid-rollback",
		expected: "the blocked release runs again on the new worker and its effect happens once; booking 1 is still released once",
		expect:   map[string]int{chaosflows.ReleaseHook: 2, flowFailure: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startTx(id, chaosflows.TxInput{Mode: chaosflows.TxFailThird, BlockRelease: 2})
			e.waitMarker(id, chaosflows.HookBlocked)
			a.Kill()
			e.startWorker()
			status, err := e.waitClosed(id)
			require.ErrorContains(t, err, "resource 3 cannot be booked")
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, status)
			h := e.history(id)
			rel := e.released(id, h)
			attempts := e.attempts(id)[rel[0].Key]
			require.GreaterOrEqual(t, len(attempts), 2, "the killed release must have been attempted again")
			dup := 0
			for _, at := range attempts {
				if at.Duplicate {
					dup++
				}
			}
			require.Equal(t, len(attempts)-1, dup, "every attempt after the first found the release done")
			e.noCrashHandler(id, e.runID(id))
			r.observe("release of %s attempted %d times, effect once; flow %s", rel[0].TaskRun, len(attempts), h.State.Name)
		},
	}
)

func TestTransactions(t *testing.T) {
	playAll(t, txFailThird, txTerminate, txKillMidRollback)
}
