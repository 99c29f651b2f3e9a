package deploy_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/deploy/deployflows"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/workflows"
)

// kind says when a run started and how it met the deploy.
type kind int

const (
	closedOnV1  kind = iota // started and closed on v1
	openOnV1                // started on v1, waiting for its signal when v1 was killed
	inTaskOnV1              // started on v1, in task attempts when v1 was killed
	startedOnV2             // started after the deploy
)

func (k kind) String() string {
	return [...]string{"v1-closed", "v1-open", "v1-in-task", "v2"}[k]
}

// version is the definitions whose plan a run of kind k keeps: the README's "a run keeps the
// hook plan it started with".
func (k kind) version() string {
	if k == startedOnV2 {
		return "v2"
	}
	return "v1"
}

// call is one hook call a run makes, as its idempotency key names it, with the hook that runs
// and whether it runs as a local activity.
type call struct {
	subject        string // "flow", or the task run's ID
	event          hooks.Event
	attempt, index int
	hook           string
	local          bool
}

// slot names the call by its idempotency key's parts; id adds the hook.
func (c call) slot() string {
	return fmt.Sprintf("%s/%s/%d/%d", c.subject, c.event, c.attempt, c.index)
}
func (c call) id() string { return c.slot() + "=" + c.hook }

// calls returns the calls of one event of subject at attempt, running names in order, with the
// modes the hooks have in version.
func calls(subject string, e hooks.Event, attempt int, version string, names ...string) []call {
	out := make([]call, len(names))
	for i, n := range names {
		out[i] = call{subject: subject, event: e, attempt: attempt, index: i, hook: n,
			local: deployflows.ModeOf(n, version) != hooks.ModeActivity}
	}
	return out
}

func pick[T any](first bool, a, b T) T {
	if first {
		return a
	}
	return b
}

// scenario is one change of the deploy, with the runs it starts and the hook calls each must
// make.
type scenario struct {
	name     string // the change v2 makes
	short    string // in workflow IDs
	workflow string
	plain    bool   // a plain workflow, started by type name
	plan     string // what the README says each run sees, for the table
	runs     map[kind]int
	expect   func(k kind) []call
}

var standardRuns = map[kind]int{closedOnV1: 1, openOnV1: 2, startedOnV2: 2}

var scenarios = []scenario{
	{
		name: "flow and task hooks added, removed, reordered", short: "hooks", workflow: deployflows.HooksFlow, runs: standardRuns,
		plan: "v1 runs: flow A,B / C,D and t1 X,Y (also its call after the deploy); t2, first called after the deploy: Q,P. v2 runs: B,A / D,N; Y,X,Z; Q,P",
		expect: func(k kind) []call {
			v := k.version()
			v1 := v == "v1"
			t1 := pick(v1, []string{deployflows.TaskX, deployflows.TaskY}, []string{deployflows.TaskY, deployflows.TaskX, deployflows.TaskZ})
			t2v := pick(k == closedOnV1, "v1", "v2")
			t2 := pick(t2v == "v1", []string{deployflows.TaskP}, []string{deployflows.TaskQ, deployflows.TaskP})
			return slices.Concat(
				calls("flow", hooks.OnRunning, 1, v, pick(v1, []string{deployflows.FlowA, deployflows.FlowB}, []string{deployflows.FlowB, deployflows.FlowA})...),
				calls(deployflows.TaskT1+"#1", hooks.OnCompletion, 1, v, t1...),
				calls(deployflows.TaskT1+"#2", hooks.OnCompletion, 1, v, t1...),
				calls(deployflows.TaskT2+"#1", hooks.OnCompletion, 1, t2v, t2...),
				calls("flow", hooks.OnCompletion, 1, v, pick(v1, []string{deployflows.FlowC, deployflows.FlowD}, []string{deployflows.FlowD, deployflows.FlowN})...),
			)
		},
	},
	{
		name: "on_running added to a task (t3), removed from another (t4)", short: "running", workflow: deployflows.RunningFlow,
		runs: map[kind]int{closedOnV1: 1, openOnV1: 2, inTaskOnV1: 1, startedOnV2: 2},
		plan: "v1 runs: t3 retried by the server, no hook; t4 on_running on each attempt of both calls (also the attempt after the kill). v2 runs: the reverse",
		expect: func(k kind) []call {
			v := k.version()
			task := pick(v == "v1", deployflows.TaskT4, deployflows.TaskT3)
			var out []call
			for _, n := range []int{1, 2} {
				for _, attempt := range []int{1, 2} {
					out = append(out, calls(fmt.Sprintf("%s#%d", task, n), hooks.OnRunning, attempt, v, deployflows.TaskR)...)
				}
			}
			return out
		},
	},
	{
		name: "hook modes switched (activity→local, local→activity, auto→activity)", short: "modes", workflow: deployflows.ModesFlow, runs: standardRuns,
		plan: "v1 runs: the v1 modes, for the flow and both calls of t5; v2 runs: the v2 modes",
		expect: func(k kind) []call {
			v := k.version()
			return slices.Concat(
				calls(deployflows.TaskT5+"#1", hooks.OnCompletion, 1, v, deployflows.ModeTAL),
				calls(deployflows.TaskT5+"#2", hooks.OnCompletion, 1, v, deployflows.ModeTAL),
				calls("flow", hooks.OnCompletion, 1, v, deployflows.ModeAL, deployflows.ModeLA, deployflows.ModeUA),
			)
		},
	},
	{
		name: "a hook removed from the worker altogether", short: "gone", workflow: deployflows.GoneFlow, runs: standardRuns,
		plan: "v1 runs: G,H (open ones: G fails with the unknown-hook error, recorded; H runs); v2 runs: H",
		expect: func(k kind) []call {
			switch k {
			case closedOnV1:
				return calls("flow", hooks.OnCompletion, 1, "v1", deployflows.GoneG, deployflows.GoneH)
			case startedOnV2:
				return calls("flow", hooks.OnCompletion, 1, "v2", deployflows.GoneH)
			}
			return calls("flow", hooks.OnCompletion, 1, "v1", deployflows.GoneG, deployflows.GoneH)[1:]
		},
	},
	{
		name: "hooks attached by name to a plain workflow and activity", short: "attach", workflow: deployflows.AttachPlain, plain: true, runs: standardRuns,
		plan: "v1 runs stay plain: no hook, SDK activity IDs; v2 runs: the attached hooks",
		expect: func(k kind) []call {
			if k != startedOnV2 {
				return nil
			}
			return plainCalls(deployflows.AttachCharge, "v2")
		},
	},
	{
		name: "hooks detached from a plain workflow and activity", short: "detach", workflow: deployflows.DetachPlain, plain: true, runs: standardRuns,
		plan: "v1 runs keep the hooks, on both activity calls; v2 runs are plain",
		expect: func(k kind) []call {
			if k == startedOnV2 {
				return nil
			}
			return plainCalls(deployflows.DetachCharge, "v1")
		},
	},
}

func plainCalls(activity, v string) []call {
	var out []call
	out = append(out, calls("flow", hooks.OnRunning, 1, v, deployflows.PlainRunning)...)
	for _, n := range []int{1, 2} {
		id := fmt.Sprintf("%s#%d", activity, n)
		out = append(out, calls(id, hooks.OnRunning, 1, v, deployflows.ChargeRunning)...)
		out = append(out, calls(id, hooks.OnCompletion, 1, v, deployflows.ChargeDone)...)
	}
	return append(out, calls("flow", hooks.OnCompletion, 1, v, deployflows.PlainDone)...)
}

// run is one run of the test.
type run struct {
	s     *scenario
	kind  kind
	id    string
	runID string
}

// TestRollingDeploy starts runs on a worker process with the v1 definitions, SIGKILLs it while
// runs are in flight (waiting for a signal, or in task attempts), and lets a worker process with
// the v2 definitions take over and start new runs. Every run must finish with no
// WorkflowTaskFailed event in its history, with the hook calls the README's "Deploying changes"
// says — the v1 plan for runs started on v1, the v2 plan for runs started after — each exactly
// once (one effect per idempotency key, none lost), in the mode its plan says; closed runs of
// v1 must answer queries on v2.
func TestRollingDeploy(t *testing.T) {
	c, err := server.NewClient(t.Context(), client.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	queue, dir := "deploy", t.TempDir()

	t.Log("starting worker v1")
	v1 := startWorker(t, c, "v1", queue, dir)
	var runs []*run
	startRuns := func(onV2 bool) {
		for i := range scenarios {
			s := &scenarios[i]
			for _, k := range []kind{closedOnV1, openOnV1, inTaskOnV1, startedOnV2} {
				if (k == startedOnV2) != onV2 {
					continue
				}
				for n := range s.runs[k] {
					r := &run{s: s, kind: k, id: fmt.Sprintf("%s-%s-%d", s.short, k, n+1)}
					r.runID = start(t, c, queue, r)
					runs = append(runs, r)
				}
			}
		}
	}
	startRuns(false)
	bad := map[*run]bool{}
	t.Cleanup(func() {
		// The events of the runs that went wrong, or did not close.
		for _, r := range runs {
			if t.Failed() && (bad[r] || !closed(c, r)) {
				dump(t, c, r)
			}
		}
	})
	t.Logf("started %d runs on v1; waiting for them to close, wait for their signal, or block in their tasks", len(runs))
	for _, r := range runs {
		switch r.kind {
		case closedOnV1:
			waitClosed(t, c, r)
		case openOnV1:
			until(t, r.id+" waiting for its signal", func() (bool, error) {
				v, err := c.QueryWorkflow(t.Context(), r.id, r.runID, deployflows.QueryStage)
				if err != nil {
					return false, nil
				}
				var stage string
				return v.Get(&stage) == nil && stage == "waiting", nil
			})
		case inTaskOnV1:
			for _, task := range []string{deployflows.TaskT3 + "#1", deployflows.TaskT4 + "#1"} {
				until(t, r.id+" blocked in "+task, func() (bool, error) {
					return chaosflows.Marked(dir, r.id, deployflows.Blocked(task)), nil
				})
			}
		}
	}

	t.Logf("SIGKILL worker v1 (pid %d); starting worker v2", v1.PID)
	v1.Kill()
	require.NoError(t, deployflows.Release(dir))
	startWorker(t, c, "v2", queue, dir)
	for _, r := range runs {
		if r.kind == openOnV1 || r.kind == inTaskOnV1 {
			require.NoError(t, c.SignalWorkflow(t.Context(), r.id, r.runID, deployflows.SignalGo, nil))
		}
	}
	before := len(runs)
	startRuns(true)
	t.Logf("started %d runs on v2; signalled the runs in flight; waiting for all %d runs to close", len(runs)-before, len(runs))
	for _, r := range runs {
		waitClosed(t, c, r)
	}

	t.Log("checking histories, queries and hook effects")
	effects, err := chaosflows.Effects(dir)
	require.NoError(t, err)
	attempts, err := chaosflows.Attempts(dir)
	require.NoError(t, err)
	rows := map[*scenario]*tally{}
	var problems []string
	for _, r := range runs {
		tl := rows[r.s]
		if tl == nil {
			tl = &tally{runs: map[kind]int{}}
			rows[r.s] = tl
		}
		p := check(t, c, r, effects, attempts, tl)
		bad[r] = len(p) > 0
		problems = append(problems, p...)
	}

	header := []string{"scenario", "runs", "hooks expected", "run", "duplicates", "lost", "unexpected", "wrong mode", "re-attempted (same key)", "WorkflowTaskFailed", "README: which runs see which hooks"}
	var table [][]string
	var total tally
	total.runs = map[kind]int{}
	for i := range scenarios {
		s := &scenarios[i]
		tl := rows[s]
		table = append(table, tl.row(s.name, s.plan))
		total.add(tl)
	}
	table = append(table, total.row("all", ""))
	report.set("rolling deploy (worker v1 SIGKILLed with runs in flight, worker v2 takes over; real processes, real Temporal server):", header, table)
	t.Log(report.String())
	require.Empty(t, problems, "the deploy broke runs:\n%s", strings.Join(problems, "\n"))
	require.Zero(t, total.wtf, "WorkflowTaskFailed events")
	require.Equal(t, total.expected, total.ran)
}

// tally counts one scenario's outcome.
type tally struct {
	runs map[kind]int
	// expected and ran count hook calls, the others what went wrong with them: a call with two
	// effects (dups), with none (lost), one the README does not promise (unexpected), one in
	// another mode than the plan's (wrong).
	expected, ran, dups, lost, unexpected, wrong int
	// rerun counts attempts of hook calls whose effect existed (made once all the same); wtf
	// counts WorkflowTaskFailed events.
	rerun, wtf int
}

func (tl *tally) add(o *tally) {
	for k, n := range o.runs {
		tl.runs[k] += n
	}
	tl.expected += o.expected
	tl.ran += o.ran
	tl.dups += o.dups
	tl.lost += o.lost
	tl.unexpected += o.unexpected
	tl.wrong += o.wrong
	tl.wtf += o.wtf
	tl.rerun += o.rerun
}

func (tl *tally) row(name, plan string) []string {
	var runs []string
	for _, k := range []kind{closedOnV1, openOnV1, inTaskOnV1, startedOnV2} {
		if n := tl.runs[k]; n > 0 {
			runs = append(runs, fmt.Sprintf("%d %s", n, k))
		}
	}
	return []string{name, strings.Join(runs, ", "), strconv.Itoa(tl.expected), strconv.Itoa(tl.ran), strconv.Itoa(tl.dups),
		strconv.Itoa(tl.lost), strconv.Itoa(tl.unexpected), strconv.Itoa(tl.wrong), strconv.Itoa(tl.rerun), strconv.Itoa(tl.wtf), plan}
}

// start starts run r as users do: a flow with adapter.StartFlow, a plain workflow by its type.
func start(t *testing.T, c client.Client, queue string, r *run) string {
	t.Helper()
	in := deployflows.Input{Wait: r.kind == openOnV1 || r.kind == inTaskOnV1, Block: r.kind == inTaskOnV1}
	opts := client.StartWorkflowOptions{ID: r.id, TaskQueue: queue}
	var wr client.WorkflowRun
	var err error
	if r.s.plain {
		wr, err = c.ExecuteWorkflow(t.Context(), opts, r.s.workflow, in)
	} else {
		wr, err = adapter.StartFlow(t.Context(), c, opts, r.s.workflow, in)
	}
	require.NoError(t, err, "starting %s", r.id)
	return wr.GetRunID()
}

func waitClosed(t *testing.T, c client.Client, r *run) {
	t.Helper()
	until(t, r.id+" to close", func() (bool, error) {
		desc, err := c.DescribeWorkflowExecution(t.Context(), r.id, r.runID)
		if err != nil {
			return false, err
		}
		return desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
	})
}

func closed(c client.Client, r *run) bool {
	desc, err := c.DescribeWorkflowExecution(context.Background(), r.id, r.runID)
	return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// check checks one closed run and counts it in tl; it returns what is wrong with it.
func check(t *testing.T, c client.Client, r *run, effects []chaosflows.Effect, attempts []chaosflows.Attempt, tl *tally) []string {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, r.id+": "+fmt.Sprintf(format, args...))
	}
	tl.runs[r.kind]++

	desc, err := c.DescribeWorkflowExecution(t.Context(), r.id, r.runID)
	require.NoError(t, err)
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		fail("closed %s, not completed", st)
	}
	for _, e := range history(t, c, r) {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			tl.wtf++
			fail("WorkflowTaskFailed (event %d): %s", e.GetEventId(), e.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := e.GetActivityTaskScheduledEventAttributes()
			if r.s.plain && a.GetActivityType().GetName() != activities.HookActivity {
				if _, err := strconv.Atoi(a.GetActivityId()); err != nil {
					fail("plain activity %s scheduled with ID %q, not the SDK's", a.GetActivityType().GetName(), a.GetActivityId())
				}
			}
		}
	}

	// Every run answers queries on v2 (closed runs of v1 replay there); managed runs answer
	// flowstate's query too.
	if _, err := c.QueryWorkflow(t.Context(), r.id, r.runID, deployflows.QueryStage); err != nil {
		fail("query %s: %v", deployflows.QueryStage, err)
	}
	managed := !r.s.plain || (r.s.workflow == deployflows.AttachPlain) == (r.kind == startedOnV2)
	var h hooks.History
	if managed {
		v, err := c.QueryWorkflow(t.Context(), r.id, r.runID, workflows.QueryType, hooks.PageRequest{})
		if err != nil {
			fail("query %s: %v", workflows.QueryType, err)
		} else if err := v.Get(&h); err != nil {
			fail("decoding the state history: %v", err)
		}
	}

	want := map[string]call{}
	for _, w := range r.s.expect(r.kind) {
		want[w.slot()] = w
	}
	tl.expected += len(want)
	seen := map[string]int{} // by id
	for _, e := range effects {
		if e.WorkflowID != r.id {
			continue
		}
		tl.ran++
		c, ok := parseKey(e.Key)
		if !ok || e.RunID != r.runID {
			fail("effect of %s with a key of another run: %s", e.Hook, e.Key)
			tl.unexpected++
			continue
		}
		c.hook = e.Hook
		seen[c.id()]++
		switch w, ok := want[c.slot()]; {
		case !ok || w.hook != c.hook:
			tl.unexpected++
			fail("unexpected hook call %s", c.id())
		case seen[c.id()] > 1:
			tl.dups++
			fail("hook call %s ran twice", c.id())
		case w.local != e.Local:
			tl.wrong++
			fail("hook call %s ran as %s", c.id(), pick(e.Local, "a local activity", "an activity"))
		}
	}
	for _, w := range want {
		if seen[w.id()] == 0 {
			tl.lost++
			fail("hook call %s made no effect", w.id())
		}
	}
	for _, a := range attempts {
		if a.WorkflowID == r.id && a.Duplicate {
			tl.rerun++
		}
	}

	if r.s.workflow == deployflows.GoneFlow && r.kind == openOnV1 {
		// The hook v2 no longer has fails with the unknown-hook error, recorded; the run goes on.
		i := slices.IndexFunc(h.Entries, func(e hooks.Entry) bool { return e.Hook != nil && e.Hook.Hook == deployflows.GoneG })
		switch {
		case i < 0:
			fail("no outcome of %s in the state history:\n%s", deployflows.GoneG, h.Timeline())
		case h.Entries[i].Hook.Status != hooks.HookFailed || !strings.Contains(h.Entries[i].Hook.Error, "not registered"):
			fail("%s: %s %q, want failed with the unknown-hook error", deployflows.GoneG, h.Entries[i].Hook.Status, h.Entries[i].Hook.Error)
		}
	}
	if len(problems) > 0 && managed {
		t.Logf("%s (%s) state history:\n%s", r.id, r.kind, h.Timeline())
	}
	return problems
}

// parseKey reads subject, event, attempt and index from an idempotency key
// "<workflow ID>/<run ID>/<subject>/<event>/<attempt>/<index>".
func parseKey(key string) (call, bool) {
	f := strings.Split(key, "/")
	if len(f) < 6 {
		return call{}, false
	}
	n := len(f)
	attempt, err1 := strconv.Atoi(f[n-2])
	index, err2 := strconv.Atoi(f[n-1])
	return call{subject: f[n-4], event: hooks.Event(f[n-3]), attempt: attempt, index: index}, err1 == nil && err2 == nil
}

func history(t *testing.T, c client.Client, r *run) []*historypb.HistoryEvent {
	t.Helper()
	var out []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), r.id, r.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}

// dump logs the events of a run's history, to see where it stands.
func dump(t *testing.T, c client.Client, r *run) {
	var b strings.Builder
	for _, e := range history(t, c, r) {
		fmt.Fprintf(&b, "%d %s", e.GetEventId(), strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_"))
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			fmt.Fprintf(&b, " %s %s", a.GetActivityType().GetName(), a.GetActivityId())
		}
		if f := e.GetWorkflowTaskFailedEventAttributes(); f != nil {
			fmt.Fprintf(&b, " %s", f.GetFailure().GetMessage())
		}
		b.WriteString("\n")
	}
	t.Logf("history of %s (%s):\n%s", r.id, r.kind, b.String())
}
