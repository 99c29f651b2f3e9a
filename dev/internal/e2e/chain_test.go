package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// hookLog counts hook calls by event, and records the run IDs they were made for.
type hookLog struct {
	mu     sync.Mutex
	events map[hooks.Event]int
	runs   map[hooks.Event][]string
	data   []string
}

func newHookLog() *hookLog {
	return &hookLog{events: map[hooks.Event]int{}, runs: map[hooks.Event][]string{}}
}

func (l *hookLog) flowHook(name string) hooks.FlowHook {
	return hooks.NewFlowHook(name, func(_ context.Context, c hooks.FlowCall) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events[c.Hook.Event]++
		l.runs[c.Hook.Event] = append(l.runs[c.Hook.Event], c.Run.RunID)
		var step string
		if ok, _ := c.Run.Lookup("step", &step); ok {
			l.data = append(l.data, string(c.Hook.Event)+":"+step)
		}
		return nil
	})
}

func (l *hookLog) count(e hooks.Event) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[e]
}

// chainInput is the input of a flow that continues as new.
type chainInput struct {
	Run  int `json:"run"`
	Runs int `json:"runs"`
}

// A flow that continues as new 5 times, with retries and hooks on every event: its body runs once
// per run, no on_failure, on_running once, on_completion once at the end, and ReadHistory shows
// the states of every run of the chain, with the data attached along the way.
func TestContinueAsNewChain(t *testing.T) {
	log := newHookLog()
	var mu sync.Mutex
	bodies := map[int]int{}
	step := adapter.NewTask("chain-step", func(ctx context.Context, n int) (int, error) { return n + 1, nil })
	var chain *adapter.Flow[chainInput, int]
	chain = adapter.NewFlow("chain", func(ctx workflow.Context, in chainInput) (int, error) {
		if !workflow.IsReplaying(ctx) {
			mu.Lock()
			bodies[in.Run]++
			mu.Unlock()
		}
		next, err := step.Run(ctx, in.Run)
		if err != nil {
			return 0, err
		}
		if err := adapter.SetRunData(ctx, "step", fmt.Sprint(next)); err != nil {
			return 0, err
		}
		if next < in.Runs {
			return 0, chain.ContinueAsNew(ctx, chainInput{Run: next, Runs: in.Runs})
		}
		return next, nil
	}, adapter.FlowOptions{
		Retries:        2,
		OnRunning:      []hooks.FlowHook{log.flowHook("chain-running")},
		OnCompletion:   []hooks.FlowHook{log.flowHook("chain-done")},
		OnFailure:      []hooks.FlowHook{log.flowHook("chain-failed")},
		OnCancellation: []hooks.FlowHook{log.flowHook("chain-cancelled")},
		OnCrashed:      []hooks.FlowHook{log.flowHook("chain-crashed")},
	})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{chain}, Tasks: []adapter.AnyTask{step}})

	run, err := chain.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, chainInput{Runs: 6})
	require.NoError(t, err)
	// The workflow ID's latest run is the chain's last.
	var result int
	require.NoError(t, c.GetWorkflow(t.Context(), run.ID(), "").Get(t.Context(), &result))
	require.Equal(t, 6, result)

	mu.Lock()
	for r := range 6 {
		require.Equal(t, 1, bodies[r], "the body of run %d runs once", r)
	}
	mu.Unlock()
	require.Equal(t, 1, log.count(hooks.OnRunning), "on_running fires once, when the chain starts")
	require.Equal(t, 1, log.count(hooks.OnCompletion), "on_completion fires once, when the chain ends")
	require.Zero(t, log.count(hooks.OnFailure), "continuing as new is not a failure")
	require.Equal(t, []string{"on_completion:6"}, log.data, "the last run's hooks see the data of the chain")

	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), "")
	require.NoError(t, err)
	require.Len(t, h.Runs, 6, "ReadHistory reads every run of the chain:\n%s", h.Timeline())
	require.Equal(t, run.RunID(), h.Runs[0])
	names := h.StateNames(run.ID())
	require.Equal(t, "Scheduled", names[0])
	require.Equal(t, "Completed", names[len(names)-1])
	require.Len(t, names, 2+6, "Scheduled, Running in each of the six runs, Completed:\n%s", h.Timeline())
	for i, e := range h.Entries {
		require.Equal(t, i+1, e.Seq, "entries are numbered across the chain")
	}
	require.Len(t, h.TaskRuns(), 6, "one task run per run, numbered across the chain")
	require.Equal(t, "chain-step#6", h.TaskRuns()[5])
	require.JSONEq(t, `"6"`, string(h.Data["step"]))
}

// pageFlow is a package-level flow that continues as new with adapter.ContinueAsNew: its function
// cannot name the flow it initialises.
var pageFlow = adapter.NewFlow("page-through", func(ctx workflow.Context, page int) (int, error) {
	if page < 3 {
		return 0, adapter.ContinueAsNew(ctx, page+1)
	}
	return page, nil
})

func TestContinueAsNewFromPackageLevelFlow(t *testing.T) {
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{pageFlow}})
	run, err := pageFlow.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 1)
	require.NoError(t, err)
	var last int
	require.NoError(t, c.GetWorkflow(t.Context(), run.ID(), "").Get(t.Context(), &last))
	require.Equal(t, 3, last)
	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), "")
	require.NoError(t, err)
	require.Len(t, h.Runs, 3, h.Timeline())
	require.Equal(t, []string{"Scheduled", "Running", "Running", "Running", "Completed"}, h.StateNames(run.ID()))
}
