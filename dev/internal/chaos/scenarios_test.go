package chaos_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/hooks"
)

// Hook names, as effects count them.
var (
	flowCrashed      = chaosflows.FlowOnCrashed.Name()
	flowCompletion   = chaosflows.FlowOnCompletion.Name()
	flowFailure      = chaosflows.FlowOnFailure.Name()
	flowCancellation = chaosflows.FlowOnCancellation.Name()
	taskCrashed      = chaosflows.TaskOnCrashed.Name()
	taskCancellation = chaosflows.TaskOnCancellation.Name()
	taskRunning      = chaosflows.TaskOnRunning.Name()
)

// scenario is one way for a flow run to end, run against real worker processes. run drives the
// run with workflow ID id and checks its outcome; the effects its hooks made are then compared
// with expect, hook by hook: a missing effect is a lost hook, an extra one a duplicate.
type scenario struct {
	name     string
	expected string
	expect   map[string]int
	run      func(t *testing.T, e *env, r *row, id string)
}

// The scenarios of SPEC §4.
var (
	killMidTask = scenario{
		name:     "1. SIGKILL mid-task, retries=0",
		expected: "task Crashed, flow Crashed, on_crashed once (flow and task) after a new worker starts",
		expect:   map[string]int{flowCrashed: 1, taskCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
			a.Kill()
			killed := time.Now()
			e.startWorker()
			status, err := e.waitClosed(id)
			require.Error(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, status)
			h := e.history(id)
			task := lastState(t, h, "chaos.block#1")
			require.Equal(t, hooks.Crashed, task.Type, h.Timeline())
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			e.noCrashHandler(id, e.runID(id))
			r.observe("task %s, flow %s, Temporal %s, closed %s after the kill", task, h.State.Name, status, since(killed))
		},
	}
	killMidTaskRetry = scenario{
		name:     "2. SIGKILL mid-task, retries=1",
		expected: "attempt 2 completes on the new worker, flow Completed, no on_crashed",
		expect:   map[string]int{flowCompletion: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			run := e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlockRetry})
			a.Kill()
			killed := time.Now()
			b := e.startWorker()
			status, err := e.waitClosed(id)
			require.NoError(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, status)
			out, err := run.Get(t.Context())
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("completed on attempt 2 by pid %d", b.PID), out)
			h := e.history(id)
			require.Equal(t, hooks.Completed, h.State.Type, h.Timeline())
			require.Equal(t, hooks.Completed, lastState(t, h, "chaos.block-retry#1").Type, h.Timeline())
			e.noCrashHandler(id, e.runID(id))
			r.observe("task %q, flow %s, Temporal %s, closed %s after the kill", out, h.State.Name, status, since(killed))
		},
	}
	killMidTaskRetryRunning = scenario{
		name:     "2b. SIGKILL mid-task, retries=1, task with on_running",
		expected: "the flow schedules attempt 2 itself: it completes on the new worker, on_running twice, no on_crashed",
		expect:   map[string]int{flowCompletion: 1, taskRunning: 2},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			run := e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlockRetryRunning})
			a.Kill()
			b := e.startWorker()
			status, err := e.waitClosed(id)
			require.NoError(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, status)
			out, err := run.Get(t.Context())
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("completed on attempt 2 by pid %d", b.PID), out)
			h := e.history(id)
			names := h.StateNames("chaos.block-retry-running#1")
			require.Equal(t, []string{hooks.NamePending, hooks.NameRunning, hooks.NameAwaitingRetry, hooks.NameRetrying, hooks.NameCompleted}, names, h.Timeline())
			awaiting := h.States("chaos.block-retry-running#1")[2]
			require.Equal(t, "HeartbeatTimeout", awaiting.ErrorType, "AwaitingRetry tells why attempt 1 ended:\n%s", h.Timeline())
			r.observe("task %s (attempt 1: %s), flow %s", strings.Join(names, "→"), awaiting.Message, h.State.Name)
		},
	}
	killMidHook = scenario{
		name:     "3. SIGKILL mid-hook (on_completion, ModeAuto's local attempt)",
		expected: "the hook's local attempt dies with its worker; the new worker runs it again, locally; its effect happens once (idempotency key)",
		expect:   map[string]int{flowCompletion: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeQuick, BlockHook: flowCompletion})
			e.waitMarker(id, chaosflows.HookBlocked)
			a.Kill()
			b := e.startWorker()
			h, key := e.completedWithOneHook(id)

			// The call's attempts: the first made the effect on the killed worker, as a local
			// activity (the default mode's first attempt), and a later one ran on the new worker
			// and found the effect made.
			attempts := e.attempts(id)[key]
			require.GreaterOrEqual(t, len(attempts), 2, "attempts of %s: %+v", key, attempts)
			require.Equal(t, a.PID, attempts[0].PID)
			require.True(t, attempts[0].Local, "the killed attempt must be ModeAuto's local attempt: %+v", attempts[0])
			require.False(t, attempts[0].Duplicate)
			last := attempts[len(attempts)-1]
			require.Equal(t, b.PID, last.PID)
			require.True(t, last.Duplicate, "the retried call must find its effect made")
			// The killed worker's workflow task recorded nothing: the new worker's replay ran the
			// local attempt again and recorded it, one marker.
			cmds := e.hookCommands(id)
			require.Equal(t, hookCommands{local: 1}, cmds, "hook commands in the run's history")
			r.observe("%d attempts of one call (pids %d local, %d local=%t), 1 effect; history: %s; flow %s",
				len(attempts), a.PID, b.PID, last.Local, cmds, h.State.Name)
		},
	}
	moveToActivity = scenario{
		name:     "3b. ModeAuto hook whose local attempt fails",
		expected: "the call waits as a retry would and moves to an activity, attempt 2; its effect happens once",
		expect:   map[string]int{flowCompletion: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeQuick, FailHookOnce: flowCompletion})
			_, key := e.completedWithOneHook(id)

			attempts := e.attempts(id)[key]
			require.Len(t, attempts, 2, "attempts of %s: %+v", key, attempts)
			first, second := attempts[0], attempts[1]
			require.True(t, first.Attempt == 1 && first.Local && first.Failed && first.PID == a.PID, "attempt 1: local, failed: %+v", first)
			require.True(t, second.Attempt == 2 && !second.Local && !second.Failed && !second.Duplicate && second.PID == a.PID,
				"attempt 2: an activity that makes the effect: %+v", second)
			require.GreaterOrEqual(t, attempts[1].At.Sub(attempts[0].At), 900*time.Millisecond, "the move waits the retry policy's first interval (1 s)")
			cmds := e.hookCommands(id)
			require.Equal(t, hookCommands{localFailed: 1, activities: 1, moved: 1}, cmds, "hook commands in the run's history")
			r.observe("attempt 1 local, failed; attempt 2 an activity %s later, 1 effect; history: %s",
				attempts[1].At.Sub(attempts[0].At).Round(10*time.Millisecond), cmds)
		},
	}
	killAfterMove = scenario{
		name:     "3c. SIGKILL mid-hook after its move to an activity",
		expected: "the local attempt fails, the activity attempt dies with its worker; the activity is retried on the new worker; its effect happens once",
		expect:   map[string]int{flowCompletion: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeQuick, FailHookOnce: flowCompletion, BlockHook: flowCompletion})
			e.waitMarker(id, chaosflows.HookBlocked)
			a.Kill()
			b := e.startWorker()
			_, key := e.completedWithOneHook(id)

			attempts := e.attempts(id)[key]
			require.GreaterOrEqual(t, len(attempts), 3, "attempts of %s: %+v", key, attempts)
			require.True(t, attempts[0].Local && attempts[0].Failed && attempts[0].PID == a.PID, "attempt 1: local, failed, on the first worker: %+v", attempts[0])
			require.True(t, !attempts[1].Local && !attempts[1].Duplicate && attempts[1].PID == a.PID && attempts[1].Attempt == 2,
				"attempt 2: an activity that made the effect on the first worker: %+v", attempts[1])
			last := attempts[len(attempts)-1]
			require.Equal(t, b.PID, last.PID)
			require.False(t, last.Local, "the retry of an activity is an activity")
			require.True(t, last.Duplicate, "the retried call must find its effect made")
			require.Greater(t, last.Attempt, 2, "the activity's retry goes on counting")
			cmds := e.hookCommands(id)
			require.Equal(t, hookCommands{localFailed: 1, activities: 1, moved: 1}, cmds, "hook commands in the run's history")
			r.observe("%d attempts (local failed, activity on pid %d killed, attempt %d on pid %d), 1 effect; history: %s",
				len(attempts), a.PID, last.Attempt, b.PID, cmds)
		},
	}
	terminate = scenario{
		name:     "4. temporal workflow terminate, worker up",
		expected: "on_crashed once, within 10 s",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock, Resource: "volume-" + id})
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test")
			terminated := time.Now()
			delay := e.waitEffect(id, flowCrashed).Sub(terminated)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, e.status(id))
			h := e.crashHandler(id, e.runID(id))
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			require.Contains(t, h.State.Message, "terminated: chaos test")
			eff := e.effects(id)[flowCrashed][0]
			require.JSONEq(t, fmt.Sprintf("%q", "volume-"+id), string(eff.Data[chaosflows.DataKey]))
			// The task of the terminated run learns it from its next heartbeat and stops.
			e.waitMarker(id, chaosflows.TaskCtxDone)
			r.delay(delay)
			require.Less(t, delay, 10*time.Second, "on_crashed must run within 10 s of the termination")
			r.observe("on_crashed %s after terminate; hook saw state %s(%q) and the run data", delay.Round(10*time.Millisecond), eff.State, eff.Message)
			// What `temporal workflow list --query "FlowState='…'"` finds: the server keeps the
			// dead run's last search attribute, which no workflow code can change any more.
			r.observe("FlowState of the dead run: %s", e.flowState(id))
		},
	}
	executionTimeout = scenario{
		name:     "5. 6 s execution timeout (temporal workflow start)",
		expected: "the run ends itself TimedOut before the server's deadline: on_failure once, no on_crashed",
		expect:   map[string]int{flowFailure: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			started := time.Now()
			e.cli("workflow", "start", "--type", chaosflows.FlowName, "--task-queue", e.queue, "--workflow-id", id,
				"--execution-timeout", "6s", "--input", `{"mode":"sleep"}`)
			status, err := e.waitClosed(id)
			require.Error(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, status, "the run closes through its own code")
			h := e.history(id)
			require.Equal(t, hooks.NameTimedOut, h.State.Name, h.Timeline())
			require.Equal(t, hooks.Failed, h.State.Type)
			e.noCrashHandler(id, e.runID(id))
			r.observe("Temporal %s %s after the start, state %s; on_failure ran in the run", status, since(started), h.State)
		},
	}
	cancelIgnored = scenario{
		name:     "6b. temporal workflow cancel, the task ignores its cancelled context",
		expected: "the task keeps heartbeating until it returns: task Cancelled, on_cancellation once (flow and task), no on_crashed",
		expect:   map[string]int{flowCancellation: 1, taskCancellation: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeIgnoreCancel})
			cancelled := time.Now()
			e.cli("workflow", "cancel", "--workflow-id", id)
			status, err := e.waitClosed(id)
			require.Error(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, status)
			require.True(t, chaosflows.Marked(e.dir, id, chaosflows.TaskReturned), "the task returned on its own, after ignoring the cancellation")
			took := time.Since(cancelled)
			require.Greater(t, took, chaosflows.IgnoreCancelFor, "the run waited for the task it cancelled")
			h := e.history(id)
			task := h.TaskRuns()[0]
			names := h.StateNames(task)
			require.Equal(t, hooks.NameCancelled, names[len(names)-1], h.Timeline())
			require.NotContains(t, names, hooks.NameCrashed, h.Timeline())
			r.observe("task %s, %s after the cancel (it ignored it for %s, %d heartbeat timeouts); flow %s, Temporal %s",
				strings.Join(names, "→"), took.Round(10*time.Millisecond), chaosflows.IgnoreCancelFor,
				int(chaosflows.IgnoreCancelFor/chaosflows.HeartbeatTimeout), h.State.Name, status)
		},
	}
	cancel = scenario{
		name:     "6. temporal workflow cancel during a long task",
		expected: "on_cancellation once, task ctx cancelled, Cancelled, Temporal Canceled",
		expect:   map[string]int{flowCancellation: 1, taskCancellation: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
			e.cli("workflow", "cancel", "--workflow-id", id)
			status, err := e.waitClosed(id)
			require.Error(t, err)
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, status)
			require.True(t, chaosflows.Marked(e.dir, id, chaosflows.TaskCtxDone), "the task must see its context cancelled")
			h := e.history(id)
			names := h.StateNames(id)
			require.Equal(t, []string{hooks.NameCancelling, hooks.NameCancelled}, names[len(names)-2:], h.Timeline())
			require.Equal(t, hooks.Cancelled, lastState(t, h, "chaos.block#1").Type, h.Timeline())
			r.observe("flow %s, task %s, task ctx cancelled, Temporal %s", strings.Join(names, "→"), lastState(t, h, "chaos.block#1").Name, status)
		},
	}
	panicFlow = scenario{
		name:     "7a. panic in flow code",
		expected: "flow Crashed with the panic message, on_crashed once",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModePanicFlow})
			status, err := e.waitClosed(id)
			require.ErrorContains(t, err, chaosflows.FlowPanic)
			h := e.history(id)
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			require.Equal(t, "panic: "+chaosflows.FlowPanic, h.State.Message)
			require.Equal(t, h.State.Message, e.effects(id)[flowCrashed][0].Message)
			r.observe("flow %s, Temporal %s", h.State, status)
		},
	}
	panicTask = scenario{
		name:     "7b. panic in task code",
		expected: "task and flow Crashed with the panic message, on_crashed once each",
		expect:   map[string]int{flowCrashed: 1, taskCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModePanicTask})
			status, err := e.waitClosed(id)
			require.ErrorContains(t, err, chaosflows.TaskPanic)
			h := e.history(id)
			task := lastState(t, h, "chaos.panic#1")
			require.Equal(t, hooks.Crashed, task.Type, h.Timeline())
			require.Equal(t, "panic: "+chaosflows.TaskPanic, task.Message)
			require.Contains(t, task.Details, "chaosflows", "the state keeps the panic's stack")
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			require.Equal(t, "panic: "+chaosflows.TaskPanic, h.State.Message)
			r.observe("task %s, flow %s, Temporal %s", task, h.State.Name, status)
		},
	}
	terminateAllDown = scenario{
		name:     "9. terminate while every worker is down",
		expected: "on_crashed once after a worker is back, seeing the run's data",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			a := e.startWorker()
			resource := "bucket-" + id
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock, Resource: resource})
			a.Kill()
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test, no worker up")
			require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, e.status(id))
			require.Empty(t, e.effects(id), "no worker is up: nothing can have run")
			e.startWorker()
			back := time.Now()
			delay := e.waitEffect(id, flowCrashed).Sub(back)
			r.delay(delay)
			h := e.crashHandler(id, e.runID(id))
			require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
			eff := e.effects(id)[flowCrashed][0]
			require.JSONEq(t, fmt.Sprintf("%q", resource), string(eff.Data[chaosflows.DataKey]), "the hook must see the run's data")
			r.observe("on_crashed %s after the new worker started; hook saw %s=%s", delay.Round(10*time.Millisecond), chaosflows.DataKey, eff.Data[chaosflows.DataKey])
		},
	}
)

// play runs sc in a fresh env and requires exactly the effects it expects.
func play(t *testing.T, sc scenario, r *row) (*env, string) {
	e := newEnv(t)
	id := e.workflowID("run")
	sc.run(t, e, r, id)
	counts := e.counts(id)
	require.Equal(t, sc.expect, counts, "effects of %s", id)
	if r != nil {
		r.observe("effects %s", formatCounts(counts))
	}
	return e, id
}

// playAll plays each scenario as a parallel subtest, with its row in the table.
func playAll(t *testing.T, list ...scenario) {
	for _, sc := range list {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			play(t, sc, newRow(t, sc.name, sc.expected))
		})
	}
}

func TestScenarios(t *testing.T) {
	playAll(t, killMidTask, killMidTaskRetry, killMidTaskRetryRunning, killMidHook, moveToActivity, killAfterMove, terminate, executionTimeout, cancel, cancelIgnored, panicFlow, panicTask, terminateAllDown)
	t.Run("8. SEED example 2 (crashcleanup)", func(t *testing.T) {
		t.Parallel()
		r := newRow(t, "8. SEED example 2 end to end", "job recorded on the run, task panics, on_crashed deletes the job")
		e := newEnv(t)
		a := e.startWorker()
		id := e.workflowID("crashing-flow")
		job := filepath.Join(e.jobs, id+".job")
		_, err := crashcleanup.Flow.Start(t.Context(), e.c, client.StartWorkflowOptions{ID: id, TaskQueue: e.queue}, struct{}{})
		require.NoError(t, err)
		status, err := e.waitClosed(id)
		require.ErrorContains(t, err, "Crashing on purpose!")
		h := e.history(id)
		require.Equal(t, hooks.Crashed, h.State.Type, h.Timeline())
		require.Equal(t, "panic: Crashing on purpose!", h.State.Message)
		require.Equal(t, hooks.Completed, lastState(t, h, "create-cloud-run-job#1").Type, h.Timeline())
		require.JSONEq(t, fmt.Sprintf("%q", id), string(h.Data[crashcleanup.DataKey]))
		results := h.Hooks()
		require.Len(t, results, 1, h.Timeline())
		require.Equal(t, "delete-cloud-run-job", results[0].Hook)
		require.Equal(t, hooks.HookCompleted, results[0].Status, h.Timeline())
		log := a.Log.String()
		require.Contains(t, log, "created job "+job, "the task must have created the job")
		require.Contains(t, log, "on_crashed: deleted job "+job)
		_, err = os.Stat(job)
		require.ErrorIs(t, err, os.ErrNotExist, "the job must be gone")
		r.observe("job created then deleted by on_crashed; flow %s, Temporal %s", h.State, status)
	})
}

func since(t0 time.Time) time.Duration { return time.Since(t0).Round(10 * time.Millisecond) }

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", strings.TrimPrefix(k, "chaos."), m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
