package chaos_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/chaos/chaosflows"
)

// TestReadHistoryOfTerminatedRun: the state history of a terminated flow run, read with
// adapter.ReadHistory (and so `flowstate states`), is the one its crash handler recorded, Crashed
// with its on_crashed hooks, not the Running its own code last recorded (SPEC §1: the state
// history is readable after the run closed).
func TestReadHistoryOfTerminatedRun(t *testing.T) {
	t.Parallel()
	r := newRow(t, "17. adapter.ReadHistory of a terminated run", "state Crashed, with the on_crashed hook's outcome")
	e := newEnv(t)
	e.startWorker()
	id := e.workflowID("run")
	e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
	e.waitMarker(id, chaosflows.TaskStarted)
	e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test")
	handler := e.crashHandler(id, e.runID(id))
	require.Equal(t, hooks.Crashed, handler.State.Type)

	h, err := adapter.ReadHistory(t.Context(), e.c, id, "")
	require.NoError(t, err)
	r.observe("ReadHistory says %s; the crash handler's memo says %s", h.State.Name, handler.State.Name)
	require.Equal(t, hooks.Crashed, h.State.Type, "ReadHistory of a terminated run:\n%s", h.Timeline())
	require.Len(t, h.Hooks(), 1, h.Timeline())
}

// TestLongWorkflowIDGetsOnCrashed shows a bug outside the sweeper's files (internal/names,
// reported with a proposed fix): a crash handler's workflow ID is the dead run's workflow ID with
// 55 more characters, so a flow run whose workflow ID is longer than the server's limit
// (limit.maxIDLength, 1000 by default) minus 55 gets no crash handler, and its on_crashed hooks
// never run when it is terminated.
func TestLongWorkflowIDGetsOnCrashed(t *testing.T) {
	t.Parallel()
	r := newRow(t, "R1. terminate a run whose workflow ID has 960 characters", "on_crashed once")
	e := newEnv(t)
	w := e.startWorker()
	long := terminateWithIDs(e, e.workflowID("run"), 960)[1]
	e.until("the sweeper to deal with the run with the long ID", func() (bool, error) {
		return len(e.effects(long)[flowCrashed]) > 0 || strings.Contains(w.log.String(), "the server refuses the crash handler"), nil
	})
	r.observe("on_crashed ×%d", len(e.effects(long)[flowCrashed]))
	require.Len(t, e.effects(long)[flowCrashed], 1, "sweeper log:\n%s", tail(w.log.String(), 5))
}
