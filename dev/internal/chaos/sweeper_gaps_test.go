package chaos_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/workflows"
)

// The sweeper's gaps, closed: an idle sweeper, a rolling deploy where the scanning worker lacks a
// flow type, a sweeper an operator terminated, and how users hide flowstate's own workflows.
var (
	terminateIdle = scenario{
		name:     "25. terminate after the sweeper idled for 75 s (IdleInterval 10 s)",
		expected: "on_crashed once, within about IdleInterval of the terminate",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeSleep})
			// Past the sweeper's first minute at its short interval: it scans every 10 s now.
			time.Sleep(75 * time.Second)
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test, idle sweeper")
			terminated := time.Now()
			delay := e.waitEffect(id, flowCrashed).Sub(terminated)
			e.crashHandler(id, e.runID(id))
			r.observe("on_crashed %s after terminate", delay.Round(10*time.Millisecond))
		},
	}
	rollingDeploy = scenario{
		name:     "26. rolling deploy: the worker that scans lacks the flow type (it runs on another queue, an older version)",
		expected: "on_crashed once, run on the new worker; the scan restarted with the grown watch, from where it was",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			// The old version runs only crashcleanup's flow, on a queue of its own.
			old := func() *proc {
				return e.startWorkerOn(e.queue+"-old", chaosflows.EnvFlows+"="+crashcleanup.Flow.Name())
			}
			a := old()
			e.waitSweeperOn(a)
			b := e.startWorker()
			// b's registration grows the watch: the scan restarts, on a or on b. The test wants it on
			// a: when it went to b, b is replaced.
			scans := e.sweepsWith(chaosflows.FlowName)
			if pid := e.sweepPID(); pid == b.PID {
				b.Kill()
				e.waitSweeperOn(a)
				b = e.startWorker()
				r.observe("the restarted scan went to the new worker, replaced")
			}
			e.startFlowInTask(id, chaosflows.Input{Mode: chaosflows.ModeBlock})
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test, rolling deploy")
			terminated := time.Now()
			delay := e.waitEffect(id, flowCrashed).Sub(terminated)
			e.crashHandler(id, e.runID(id))
			require.Equal(t, a.PID, e.sweepPID(), "the old worker scanned")
			require.Equal(t, b.PID, e.effects(id)[flowCrashed][0].PID, "the new worker ran the hook")
			last := scans[len(scans)-1]
			require.False(t, last.State.Cursor.IsZero(), "the restarted scan goes on from where the cancelled one got to: %+v", last.State)
			r.observe("on_crashed %s after terminate, on the new worker (pid %d), scanned by the old one (pid %d); restarted scan from cursor %s, watch %v",
				delay.Round(10*time.Millisecond), b.PID, a.PID, last.State.Cursor.Format(time.TimeOnly), last.Watch)
		},
	}
	sweeperTerminated = scenario{
		name:     "27. an operator terminates the sweeper, then a run (before the sweeper is back)",
		expected: "the worker starts the sweeper again; on_crashed once",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			p := e.startWorker()
			e.waitSweeperOn(p)
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeSleep})
			sweeper := workflows.SweeperWorkflowID(e.group)
			before := e.runID(sweeper)
			e.cli("workflow", "terminate", "--workflow-id", sweeper, "--reason", "chaos test, operator")
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test")
			terminated := time.Now()
			e.until("the sweeper to run again", func() (bool, error) {
				desc, err := e.c.DescribeWorkflowExecution(t.Context(), sweeper, "")
				if err != nil {
					return false, err
				}
				info := desc.GetWorkflowExecutionInfo()
				return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && info.GetExecution().GetRunId() != before, nil
			})
			back := time.Since(terminated)
			delay := e.waitEffect(id, flowCrashed).Sub(terminated)
			e.crashHandler(id, e.runID(id))
			r.observe("sweeper running again %s after the terminates; on_crashed %s after", back.Round(10*time.Millisecond), delay.Round(10*time.Millisecond))
		},
	}
	hideInternal = scenario{
		name:     "28. temporal workflow list --query \"WorkflowType NOT STARTS_WITH 'flowstate.'\"",
		expected: "lists the users' runs, not the sweeper nor the crash handlers",
		expect:   map[string]int{flowCrashed: 1},
		run: func(t *testing.T, e *env, r *row, id string) {
			e.startWorker()
			e.startFlow(id, chaosflows.Input{Mode: chaosflows.ModeSleep})
			e.cli("workflow", "terminate", "--workflow-id", id, "--reason", "chaos test")
			e.crashHandler(id, e.runID(id))
			handler := workflows.CrashHandlerID(id, e.runID(id))
			sweeper := workflows.SweeperWorkflowID(e.group)
			scope := fmt.Sprintf("(TaskQueue = '%s' OR WorkflowId = '%s')", e.queue, sweeper)
			var all, users string
			e.until("the visibility store to list the handler", func() (bool, error) {
				all = e.cli("workflow", "list", "--query", scope)
				return strings.Contains(all, handler) && strings.Contains(all, sweeper), nil
			})
			users = e.cli("workflow", "list", "--query", scope+" AND WorkflowType NOT STARTS_WITH 'flowstate.'")
			require.Contains(t, users, id)
			require.NotContains(t, users, handler)
			require.NotContains(t, users, sweeper)
			internal := e.cli("workflow", "list", "--query", scope+" AND WorkflowType STARTS_WITH 'flowstate.'")
			require.Contains(t, internal, handler)
			require.Contains(t, internal, sweeper)
			require.NotContains(t, internal, id+" ")
			r.observe("%d rows without the filter, %d with it, %d internal", listRows(all), listRows(users), listRows(internal))
		},
	}
)

func TestSweeperWithoutGaps(t *testing.T) {
	playAll(t, terminateIdle, rollingDeploy, sweeperTerminated, hideInternal)
}

// listRows counts the rows of a `temporal workflow list` table.
func listRows(out string) int {
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(line, "WorkflowId") {
			n++
		}
	}
	return n
}

// sweepPID returns the pid of the chaos worker whose identity runs the env's sweep, or 0.
func (e *env) sweepPID() int {
	e.t.Helper()
	desc, err := e.c.DescribeWorkflowExecution(e.t.Context(), workflows.SweeperWorkflowID(e.group), "")
	require.NoError(e.t, err)
	for _, a := range desc.GetPendingActivities() {
		if a.GetState() != enumspb.PENDING_ACTIVITY_STATE_STARTED {
			continue
		}
		for _, p := range e.workers {
			if a.GetLastWorkerIdentity() == chaosflows.Identity(p.PID) {
				return p.PID
			}
		}
	}
	return 0
}

// sweepsWith waits until the env's sweeper scheduled a sweep whose watch holds flowType, running
// on some worker, and returns the inputs of every sweep the sweeper scheduled.
func (e *env) sweepsWith(flowType string) []workflows.SweepInput {
	e.t.Helper()
	var inputs []workflows.SweepInput
	e.until("a sweep watching "+flowType, func() (bool, error) {
		inputs = inputs[:0]
		it := e.c.GetWorkflowHistory(e.t.Context(), workflows.SweeperWorkflowID(e.group), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			a := ev.GetActivityTaskScheduledEventAttributes()
			if a == nil || a.GetActivityType().GetName() != workflows.SweepActivity {
				continue
			}
			var in workflows.SweepInput
			if err := json.Unmarshal(a.GetInput().GetPayloads()[0].GetData(), &in); err != nil {
				return false, err
			}
			inputs = append(inputs, in)
		}
		if len(inputs) == 0 {
			return false, nil
		}
		for _, w := range inputs[len(inputs)-1].Watch {
			for _, t := range w.FlowTypes {
				if t == flowType && e.sweepPID() != 0 {
					return true, nil
				}
			}
		}
		return false, nil
	})
	return inputs
}
