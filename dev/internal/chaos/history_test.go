package chaos_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/hooks"
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
	e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
	e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test")
	handler := e.crashHandler(id, e.runID(id))
	require.Equal(t, hooks.Crashed, handler.State.Type)

	h, err := adapter.ReadHistory(t.Context(), e.c, id, "")
	require.NoError(t, err)
	r.observe("ReadHistory says %s; the crash handler's memo says %s", h.State.Name, handler.State.Name)
	require.Equal(t, hooks.Crashed, h.State.Type, "ReadHistory of a terminated run:\n%s", h.Timeline())
	require.Len(t, h.Hooks(), 1, h.Timeline())
}
