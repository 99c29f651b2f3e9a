package chaos_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/workerproc"
	"github.com/flowstate/flowstate/hooks"
)

// The tests of this file reproduce two bugs these chaos tests found outside the sweeper: they
// failed until the fixes in internal/names (hashed long IDs) and activities/interceptor.go (a
// graceful stop is a crash) and keep them fixed.

// TestLongWorkflowIDGetsOnCrashed (internal/names): a crash handler's workflow ID is the dead
// run's workflow ID with 55 more characters, so a flow run whose workflow ID is longer than the
// server's limit (limit.maxIDLength, 1000 by default) minus 55 gets no crash handler, and its
// on_crashed hooks never run when it is terminated. (The sweeper logs it and handles the other
// runs: scenario 23.)
func TestLongWorkflowIDGetsOnCrashed(t *testing.T) {
	t.Parallel()
	r := newRow(t, "R1. terminate a run whose workflow ID has 960 characters", "on_crashed once")
	e := newEnv(t)
	w := e.startWorker()
	long := terminateWithIDs(e, e.workflowID("run"), 960)[1]
	e.until("the sweeper to deal with the run with the long ID", func() (bool, error) {
		return len(e.effects(long)[flowCrashed]) > 0 || strings.Contains(w.Log.String(), "the server refuses the crash handler"), nil
	})
	r.observe("on_crashed ×%d", len(e.effects(long)[flowCrashed]))
	require.Len(t, e.effects(long)[flowCrashed], 1, "sweeper log:\n%s", workerproc.Tail(w.Log.String(), 5))
}

// TestGracefulStopMidTaskIsACrash (activities/interceptor.go): a worker stopped with SIGTERM
// (worker.Worker.Run, a deploy) cancels the context of its tasks in flight; a task that returns
// ctx.Err() then ends Failed("context canceled") when the SDK gets to report that before the
// process exits, and Crashed (no heartbeat) when it does not: on_failure or on_crashed, by a race.
// The attempt did not end through the task's code: it is Crashed, as a kill makes it (scenario 1).
// The worker process here lives on a little after its worker stopped, as a process that closes
// other resources does, so that the SDK reports.
func TestGracefulStopMidTaskIsACrash(t *testing.T) {
	t.Parallel()
	r := newRow(t, "R2. SIGTERM (graceful stop) mid-task, retries=0", "task Crashed, flow Crashed, on_crashed once (flow and task)")
	e := newEnv(t)
	e.env = append(e.env, chaosflows.EnvExitDelay+"=1s")
	id := e.workflowID("run")
	a := e.startWorker()
	e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
	a.Stop(t)
	e.startWorker()
	status, _ := e.waitClosed(id)
	h := e.history(id)
	task := lastState(t, h, "chaos.block#1")
	r.observe("task %s, flow %s, Temporal %s; effects %s", task, h.State, status, formatCounts(e.counts(id)))
	require.Equal(t, hooks.Crashed, task.Type, h.Timeline())
	require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
	require.Equal(t, map[string]int{flowCrashed: 1, taskCrashed: 1}, e.counts(id))
}
