package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

type empty struct{}

// startWorker runs a flowstate worker on its own task queue of the shared server.
func startWorker(t *testing.T, opts worker.Options) (client.Client, string) {
	t.Helper()
	c := flowstatetest.NewClient(t)
	return c, flowstatetest.StartWorker(t, c, opts).TaskQueue()
}

// A flow whose on_failure hook runs once, after its retries, on a real server; the state history
// is read back from the memo after the run closed, and the FlowState search attribute finds it.
func TestOnFailureAfterRetries(t *testing.T) {
	var mu sync.Mutex
	var seen []hooks.FlowCall
	notify := hooks.NewFlowHook("notify", func(ctx context.Context, c hooks.FlowCall) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, c)
		return nil
	})
	f := adapter.NewFlow("failing-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, errors.New("oops!")
	}, adapter.FlowOptions{Retries: 1, Tags: []string{"seed"}, OnFailure: []hooks.FlowHook{notify}})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}})

	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{ID: "failing-" + tq, TaskQueue: tq}, empty{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "oops!")

	mu.Lock()
	require.Len(t, seen, 1, "on_failure must run once, after the last retry")
	require.Equal(t, "Failed", seen[0].State.Name)
	require.Equal(t, 2, seen[0].Run.Attempt)
	require.Equal(t, []string{"seed"}, seen[0].Run.Tags)
	mu.Unlock()

	h, err := run.History(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Failed"}, h.StateNames(h.WorkflowID))
	require.Equal(t, hooks.HookCompleted, h.Hooks()[0].Status)

	// Closed: the history comes from the memo, without a query.
	desc, err := c.DescribeWorkflowExecution(t.Context(), run.ID(), run.RunID())
	require.NoError(t, err)
	require.Contains(t, desc.GetWorkflowExecutionInfo().GetMemo().GetFields(), adapter.MemoKey)

	// The final state is filterable.
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("FlowState = 'Failed' AND WorkflowId = '%s'", run.ID()),
		})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 100*time.Millisecond)
}

// A flow started by workflow type name with JSON input, as `temporal workflow start --type … --input …`
// does: no Go types on the client side.
func TestStartByTypeNameWithJSONInput(t *testing.T) {
	type params struct {
		Name  string `json:"name"`
		Times int    `json:"times"`
	}
	shout := adapter.NewTask("shout", func(ctx context.Context, p params) (string, error) {
		out := ""
		for range p.Times {
			out += p.Name + "!"
		}
		return out, nil
	})
	greet := adapter.NewFlow("greet", func(ctx workflow.Context, p params) (map[string]string, error) {
		s, err := shout.Run(ctx, p)
		return map[string]string{"greeting": "hello " + s}, err
	})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{greet}, Tasks: []adapter.AnyTask{shout}})

	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq}, "greet",
		json.RawMessage(`{"name": "ada", "times": 2}`))
	require.NoError(t, err)
	var out map[string]string
	require.NoError(t, run.Get(t.Context(), &out))
	require.Equal(t, map[string]string{"greeting": "hello ada!ada!"}, out)

	h, err := adapter.ReadHistory(t.Context(), c, run.GetID(), "")
	require.NoError(t, err)
	require.Equal(t, "Completed", h.State.Name)
	require.Equal(t, []string{"Pending", "Running", "Completed"}, h.StateNames("shout#1"))
	require.Equal(t, 1, lastOf(h.States("shout#1")).Attempt)

	// Invalid JSON for the flow's parameters: Failed before the body.
	bad, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq}, "greet",
		json.RawMessage(`{"name": 7}`))
	require.NoError(t, err)
	err = bad.Get(t.Context(), nil)
	require.ErrorContains(t, err, "input is not valid JSON for its parameters")
	h, err = adapter.ReadHistory(t.Context(), c, bad.GetID(), "")
	require.NoError(t, err)
	require.Equal(t, []string{"Scheduled", "Failed"}, h.StateNames(h.WorkflowID))
}

// The history a flow and task with no hooks produce, next to the same plain Temporal workflow and
// activity: at most two events more when started with Flow.Start.
func TestNoHookFlowHistoryCost(t *testing.T) {
	noop := adapter.NewTask("noop", func(ctx context.Context, n int) (int, error) { return n, nil })
	f := adapter.NewFlow("no-hooks", func(ctx workflow.Context, n int) (int, error) { return noop.Run(ctx, n) })
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{noop}})

	plainTQ := tq + "-plain"
	pw := sdkworker.New(c, plainTQ, sdkworker.Options{})
	pw.RegisterWorkflowWithOptions(func(ctx workflow.Context, n int) (int, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		var out int
		err := workflow.ExecuteActivity(ctx, "noop", n).Get(ctx, &out)
		return out, err
	}, workflow.RegisterOptions{Name: "plain"})
	pw.RegisterActivityWithOptions(func(ctx context.Context, n int) (int, error) { return n, nil }, activityOptions("noop"))
	require.NoError(t, pw.Start())
	t.Cleanup(pw.Stop)

	plainRun, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: plainTQ}, "plain", 1)
	require.NoError(t, err)
	require.NoError(t, plainRun.Get(t.Context(), nil))
	flowRun, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 1)
	require.NoError(t, err)
	_, err = flowRun.Get(t.Context())
	require.NoError(t, err)
	cliRun, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq}, "no-hooks", 1)
	require.NoError(t, err)
	require.NoError(t, cliRun.Get(t.Context(), nil))

	plain := events(t, c, plainRun.GetID())
	flow := events(t, c, flowRun.ID())
	byName := events(t, c, cliRun.GetID())
	t.Logf("history events: plain workflow+activity %d, flow+task (Flow.Start) %d, flow+task (started by type name, no search attribute at start) %d",
		len(plain), len(flow), len(byName))
	t.Logf("plain: %v", plain)
	t.Logf("flow:  %v", flow)
	require.LessOrEqual(t, len(flow), len(plain)+2)
	require.LessOrEqual(t, len(byName), len(plain)+3)
}

func events(t *testing.T, c client.Client, id string) []string {
	t.Helper()
	var out []string
	it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		out = append(out, e.GetEventType().String())
	}
	return out
}

var _ = temporal.NewApplicationError

func activityOptions(name string) activity.RegisterOptions {
	return activity.RegisterOptions{Name: name}
}

// Each fired hook costs one activity's worth of history, or one marker event in ModeLocal and
// ModeAuto (the default); a run with hooks records its plan once, in one marker more.
func TestHookHistoryCost(t *testing.T) {
	noop := func(context.Context, hooks.FlowCall) error { return nil }
	count := map[hooks.Mode]int{}
	for _, mode := range []hooks.Mode{hooks.ModeActivity, hooks.ModeLocal, hooks.ModeAuto} {
		done := hooks.NewFlowHook("cost-done", noop, hooks.Options{Mode: mode})
		started := hooks.NewFlowHook("cost-running", noop, hooks.Options{Mode: mode})
		task := adapter.NewTask("cost-noop", func(ctx context.Context, n int) (int, error) { return n, nil })
		withHooks := adapter.NewFlow("cost-hooks", func(ctx workflow.Context, n int) (int, error) { return task.Run(ctx, n) },
			adapter.FlowOptions{OnRunning: []hooks.FlowHook{started}, OnCompletion: []hooks.FlowHook{done}})
		without := adapter.NewFlow("cost-none", func(ctx workflow.Context, n int) (int, error) { return task.Run(ctx, n) })
		c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{withHooks, without}, Tasks: []adapter.AnyTask{task}})
		a, err := withHooks.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 1)
		require.NoError(t, err)
		_, err = a.Get(t.Context())
		require.NoError(t, err)
		b, err := without.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 1)
		require.NoError(t, err)
		_, err = b.Get(t.Context())
		require.NoError(t, err)
		h, err := a.History(t.Context())
		require.NoError(t, err)
		require.Len(t, h.Hooks(), 2)
		with, none := events(t, c, a.ID()), events(t, c, b.ID())
		perHook := float64(len(with)-len(none)-1) / 2
		t.Logf("%s: %d events with 2 hooks, %d without: %.1f events per hook\n%v", modeName(mode), len(with), len(none), perHook, with)
		count[mode] = len(with) - len(none)
	}
	// An awaited activity is its three events and the workflow task that resumes the run; a local
	// hook is its marker. The plan is one marker per run.
	require.Equal(t, 2*6+1, count[hooks.ModeActivity])
	require.Equal(t, 2*1+1, count[hooks.ModeLocal])
	require.Equal(t, 2*1+1, count[hooks.ModeAuto])
}

func lastOf(states []hooks.State) hooks.State {
	if len(states) == 0 {
		return hooks.State{}
	}
	return states[len(states)-1]
}
