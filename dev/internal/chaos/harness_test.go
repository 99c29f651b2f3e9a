package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/temporalcli"
	"github.com/flowstate/flowstate/dev/internal/workerproc"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/workflows"
)

// sweepInterval is the crash sweeper's interval in the chaos workers.
const sweepInterval = 500 * time.Millisecond

// wait bounds every wait for something that a correct system does within seconds; running into
// it fails the test with what was awaited.
const wait = workerproc.Wait

var counter atomic.Int64

// env is one scenario's world: a task queue of its own, served by the worker processes it
// starts, and an effects directory the workers' hooks write into.
type env struct {
	t       *testing.T
	c       client.Client
	queue   string
	group   string        // the crash sweeper's group: each env has a sweeper of its own
	dir     string        // effects, attempts log, markers
	jobs    string        // FLOWSTATE_EXAMPLES_DIR of the workers
	sweep   time.Duration // the crash sweeper's interval in the workers
	env     []string      // more environment for the workers
	workers []*proc
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func newEnv(t *testing.T) *env {
	t.Helper()
	c, err := server.NewClient(t.Context(), client.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	e := &env{
		t: t, c: c,
		queue: fmt.Sprintf("chaos-%s-%d", unsafe.ReplaceAllString(t.Name(), "."), counter.Add(1)),
		dir:   t.TempDir(),
		jobs:  t.TempDir(),
		sweep: sweepInterval,
	}
	e.group = e.queue
	t.Cleanup(func() {
		// Leftover workers die first; their logs are shown when the test failed.
		for _, p := range e.workers {
			p.Kill()
		}
		if t.Failed() {
			for _, p := range e.workers {
				t.Logf("log of worker pid %d (%s):\n%s", p.PID, p.State(), workerproc.Tail(p.Log.String(), 80))
			}
		}
	})
	return e
}

// proc is a chaos worker process.
type proc = workerproc.Proc

// startWorker starts a chaos worker process for the env's queue and waits until it polls for
// workflow and activity tasks.
func (e *env) startWorker() *proc {
	e.t.Helper()
	return e.startWorkerOn(e.queue)
}

// startWorkerOn starts a chaos worker process for queue, with more environment, and waits until
// it polls for workflow and activity tasks.
func (e *env) startWorkerOn(queue string, env ...string) *proc {
	e.t.Helper()
	vars := []string{
		"TEMPORAL_ADDRESS=" + server.HostPort(), "TEMPORAL_NAMESPACE=" + server.Namespace(),
		"TEMPORAL_PROFILE=", "TEMPORAL_API_KEY=", "TEMPORAL_TLS=",
		chaosflows.EnvQueue + "=" + queue, chaosflows.EnvDir + "=" + e.dir,
		chaosflows.EnvSweepInterval + "=" + e.sweep.String(),
		chaosflows.EnvSweeperGroup + "=" + e.group,
		"FLOWSTATE_EXAMPLES_DIR=" + e.jobs,
	}
	vars = append(append(vars, e.env...), env...)
	p := workerproc.Start(e.t, workerBin, vars)
	e.workers = append(e.workers, p)
	p.WaitPolls(e.t, e.c, queue, chaosflows.Identity(p.PID))
	return p
}

// until polls cond until it holds, failing the test when cond errs or after wait.
func (e *env) until(what string, cond func() (bool, error)) {
	e.t.Helper()
	workerproc.Until(e.t, what, cond)
}

// workflowID returns a workflow ID of the env's own.
func (e *env) workflowID(what string) string {
	return fmt.Sprintf("%s-%s", e.queue, what)
}

// startFlow starts the chaos flow with the SDK.
func (e *env) startFlow(id string, in chaosflows.Input) *adapter.FlowRunHandle[string] {
	e.t.Helper()
	h, err := chaosflows.Flow.Start(e.t.Context(), e.c, client.StartWorkflowOptions{ID: id, TaskQueue: e.queue}, in)
	require.NoError(e.t, err)
	return h
}

// startFlowInTask starts a flow run and waits until its task is running (its marker is written):
// the moment the kill scenarios strike.
func (e *env) startFlowInTask(id string, in chaosflows.Input) *adapter.FlowRunHandle[string] {
	e.t.Helper()
	h := e.startFlow(id, in)
	e.waitMarker(id, chaosflows.TaskStarted)
	return h
}

// cli runs the real temporal CLI against the server and requires it to succeed.
func (e *env) cli(args ...string) string {
	e.t.Helper()
	out, err := temporalcli.Run(e.t, server.HostPort(), args...)
	require.NoError(e.t, err, "temporal %s:\n%s", strings.Join(args, " "), out)
	return out
}

// waitMarker waits until the flow run's task or hook wrote marker m.
func (e *env) waitMarker(id string, m chaosflows.Marker) {
	e.t.Helper()
	e.until(fmt.Sprintf("marker %s of %s", m, id), func() (bool, error) {
		return chaosflows.Marked(e.dir, id, m), nil
	})
}

// waitClosed waits for the latest run of id to close and returns its Temporal status and error.
func (e *env) waitClosed(id string) (enumspb.WorkflowExecutionStatus, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), wait)
	defer cancel()
	err := e.c.GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.NoError(e.t, ctx.Err(), "waiting for %s to close", id)
	return e.status(id), err
}

func (e *env) status(id string) enumspb.WorkflowExecutionStatus {
	e.t.Helper()
	desc, err := e.c.DescribeWorkflowExecution(e.t.Context(), id, "")
	require.NoError(e.t, err)
	return desc.GetWorkflowExecutionInfo().GetStatus()
}

// flowState returns the FlowState search attribute of the latest run of id.
func (e *env) flowState(id string) string {
	e.t.Helper()
	desc, err := e.c.DescribeWorkflowExecution(e.t.Context(), id, "")
	require.NoError(e.t, err)
	p, ok := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.SearchAttribute]
	if !ok {
		return "(none)"
	}
	var v string
	require.NoError(e.t, converter.GetDefaultDataConverter().FromPayload(p, &v))
	return v
}

func (e *env) runID(id string) string {
	e.t.Helper()
	desc, err := e.c.DescribeWorkflowExecution(e.t.Context(), id, "")
	require.NoError(e.t, err)
	return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// history reads the flowstate state history of a closed run from its memo.
func (e *env) history(id string) hooks.History {
	e.t.Helper()
	h, err := adapter.ReadHistory(e.t.Context(), e.c, id, "")
	require.NoError(e.t, err)
	return h
}

// crashHandler waits for the crash handler of a terminated or timed-out run to finish and
// returns the state history it ends with.
func (e *env) crashHandler(id, runID string) hooks.History {
	e.t.Helper()
	hid := workflows.CrashHandlerID(id, runID)
	e.until("the crash handler of "+id, func() (bool, error) {
		_, err := e.c.DescribeWorkflowExecution(e.t.Context(), hid, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return false, nil
		}
		return err == nil, err
	})
	ctx, cancel := context.WithTimeout(e.t.Context(), wait)
	defer cancel()
	var h hooks.History
	require.NoError(e.t, e.c.GetWorkflow(ctx, hid, "").Get(ctx, &h), "crash handler %s", hid)
	return h
}

// noCrashHandler requires that the sweeper started no crash handler for the run: the run ended
// through its own code, which ran its hooks.
func (e *env) noCrashHandler(id, runID string) {
	e.t.Helper()
	_, err := e.c.DescribeWorkflowExecution(e.t.Context(), workflows.CrashHandlerID(id, runID), "")
	var nf *serviceerror.NotFound
	require.ErrorAs(e.t, err, &nf, "a crash handler was started for %s, which ended through its own code", id)
}

// effects returns the effects hooks made for the flow run id, by hook name.
func (e *env) effects(id string) map[string][]chaosflows.Effect {
	e.t.Helper()
	all, err := chaosflows.Effects(e.dir)
	require.NoError(e.t, err)
	out := map[string][]chaosflows.Effect{}
	for _, eff := range all {
		if eff.WorkflowID == id {
			out[eff.Hook] = append(out[eff.Hook], eff)
		}
	}
	return out
}

// counts returns how many effects each hook made for the flow run id.
func (e *env) counts(id string) map[string]int {
	out := map[string]int{}
	for name, list := range e.effects(id) {
		out[name] = len(list)
	}
	return out
}

// attempts returns the attempts the hook calls of the flow run id made, by idempotency key.
func (e *env) attempts(id string) map[string][]chaosflows.Attempt {
	e.t.Helper()
	all, err := chaosflows.Attempts(e.dir)
	require.NoError(e.t, err)
	out := map[string][]chaosflows.Attempt{}
	for _, a := range all {
		if a.WorkflowID == id {
			out[a.Key] = append(out[a.Key], a)
		}
	}
	return out
}

// waitEffect waits until hook made an effect for the flow run id and returns when it saw it.
func (e *env) waitEffect(id, hook string) time.Time {
	e.t.Helper()
	e.until(hook+" effect of "+id, func() (bool, error) {
		return len(e.effects(id)[hook]) > 0, nil
	})
	return time.Now()
}

// lastState returns the last state of run in h.
func lastState(t *testing.T, h hooks.History, run string) hooks.State {
	t.Helper()
	states := h.States(run)
	require.NotEmpty(t, states, "no states for %s in:\n%s", run, h.Timeline())
	return states[len(states)-1]
}

// completedWithOneHook waits for run id to close, requires it Completed with one hook call that
// completed, and returns its state history and that call's idempotency key.
func (e *env) completedWithOneHook(id string) (hooks.History, string) {
	e.t.Helper()
	status, err := e.waitClosed(id)
	require.NoError(e.t, err)
	require.Equal(e.t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, status)
	h := e.history(id)
	require.Equal(e.t, hooks.Completed, h.State.Type, h.Timeline())
	results := h.Hooks()
	require.Len(e.t, results, 1, h.Timeline())
	require.Equal(e.t, hooks.HookCompleted, results[0].Status, h.Timeline())
	return h, results[0].Key
}

// hookCommands is what a run's Temporal history shows of its hook calls.
type hookCommands struct {
	// local and localFailed count the flowstate.hook local activity markers, those of a
	// successful attempt and of a failed one.
	local, localFailed int
	// activities counts the flowstate.hook activities; moved those that went on with a call
	// after its local attempt (ModeAuto), their Invocation.AttemptBase set.
	activities, moved int
}

func (h hookCommands) String() string {
	return fmt.Sprintf("%d local (%d failed), %d activities (%d moved)", h.local+h.localFailed, h.localFailed, h.activities, h.moved)
}

// hookCommands reads the hook calls from the latest run of id's Temporal history.
func (e *env) hookCommands(id string) hookCommands {
	e.t.Helper()
	dc := converter.GetDefaultDataConverter()
	var out hookCommands
	it := e.c.GetWorkflowHistory(e.t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			m := ev.GetMarkerRecordedEventAttributes()
			var data struct{ ActivityType string }
			if m.GetMarkerName() != "LocalActivity" || dc.FromPayloads(m.GetDetails()["data"], &data) != nil || data.ActivityType != activities.HookActivity {
				continue
			}
			if m.GetFailure() != nil {
				out.localFailed++
			} else {
				out.local++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			if a.GetActivityType().GetName() != activities.HookActivity {
				continue
			}
			out.activities++
			var inv hooks.Invocation
			require.NoError(e.t, dc.FromPayloads(a.GetInput(), &inv))
			if inv.AttemptBase > 0 {
				out.moved++
			}
		}
	}
	return out
}
