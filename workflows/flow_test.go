package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

type empty struct{}

// SPEC §2: a flow with retries=1 that fails twice runs on_failure once and on_running twice;
// no hook runs for AwaitingRetry.
func TestFlowRetriesFireOnFailureOnceAfterLastRetry(t *testing.T) {
	j := &journal{}
	f := adapter.NewFlow("failing-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, errors.New("oops!")
	}, adapter.FlowOptions{
		Retries:   1,
		OnRunning: []hooks.FlowHook{j.flowHook("on-run", nil)},
		OnFailure: []hooks.FlowHook{j.flowHook("notify", nil)},
	})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, nil)
	requireCompleted(t, env)
	require.ErrorContains(t, env.GetWorkflowError(), "oops!")

	require.Equal(t, []string{
		"on-run on_running Running",
		"on-run on_running Retrying",
		"notify on_failure Failed",
	}, j.Lines())
	h := env.History()
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Failed"}, flowNames(h))
	final := h.State
	require.Equal(t, hooks.Failed, final.Type)
	require.Equal(t, "oops!", final.Message)
	require.Equal(t, 2, final.Attempt)
	require.Equal(t, "oops!", j.flow[2].State.Message)
	require.Equal(t, 2, j.flow[2].Run.Attempt)
}

// SPEC §2: hooks of one event run in registration order; one that still fails after its retries is
// recorded, does not change the state, and the next still runs.
func TestFailingHookIsRecordedAndNextHookRuns(t *testing.T) {
	j := &journal{}
	f := adapter.NewFlow("ok-flow", func(ctx workflow.Context, _ empty) (string, error) {
		return "done", nil
	}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{
		j.flowHook("first", nil),
		j.flowHook("raises", errors.New("hook exploded")),
		j.flowHook("third", nil),
	}})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, nil)
	requireCompleted(t, env)
	require.NoError(t, env.GetWorkflowError())

	// "raises" is attempted twice (its retry policy), then given up.
	require.Equal(t, []string{
		"first on_completion Completed",
		"raises on_completion Completed",
		"raises on_completion Completed",
		"third on_completion Completed",
	}, j.Lines())
	h := env.History()
	require.Equal(t, hooks.Completed, h.State.Type)
	results := h.Hooks()
	require.Len(t, results, 3)
	require.Equal(t, hooks.HookCompleted, results[0].Status)
	require.Equal(t, hooks.HookFailed, results[1].Status)
	require.Contains(t, results[1].Error, "hook exploded")
	require.Equal(t, hooks.HookCompleted, results[2].Status)
	require.Len(t, env.CallsOf("raises"), 2)
}

// SPEC §2: hooks can be given at definition, added later (decorator style) and replaced on a copy.
func TestHooksAddedLaterAndReplacedOnCopy(t *testing.T) {
	j := &journal{}
	base := adapter.NewFlow("decorated", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, nil
	}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{j.flowHook("at-definition", nil)}})
	base.OnCompletion(j.flowHook("added-later", nil))
	replaced := base.WithOptions(func(o *adapter.FlowOptions) {
		o.OnCompletion = []hooks.FlowHook{j.flowHook("on-copy", nil)}
	})

	env := newEnv(t, worker.Options{Flows: flows(base)})
	env.ExecuteFlow(base, nil)
	require.Equal(t, []string{"at-definition on_completion Completed", "added-later on_completion Completed"}, j.Lines())

	j2 := &journal{}
	_ = j2
	j.lines = nil
	env = newEnv(t, worker.Options{Flows: flows(replaced)})
	env.ExecuteFlow(replaced, nil)
	require.Equal(t, []string{"on-copy on_completion Completed"}, j.Lines())
	// The original is unchanged by the copy.
	require.Len(t, base.Options().OnCompletion, 2)
}

// SPEC §6: invalid JSON input ends the run Failed before the body: on_failure runs, on_running
// does not.
func TestInvalidInputFailsBeforeBody(t *testing.T) {
	type params struct {
		X string `json:"x"`
		Y int    `json:"y"`
	}
	j := &journal{}
	bodyRan := false
	f := adapter.NewFlow("typed", func(ctx workflow.Context, p params) (empty, error) {
		bodyRan = true
		return empty{}, nil
	}, adapter.FlowOptions{
		Retries:   2,
		OnRunning: []hooks.FlowHook{j.flowHook("on-run", nil)},
		OnFailure: []hooks.FlowHook{j.flowHook("on-fail", nil)},
	})
	for name, input := range map[string]json.RawMessage{
		"wrong type":    json.RawMessage(`{"x": 1}`),
		"unknown field": json.RawMessage(`{"z": true}`),
		"not an object": json.RawMessage(`[1, 2]`),
	} {
		t.Run(name, func(t *testing.T) {
			j.lines, bodyRan = nil, false
			env := newEnv(t, worker.Options{Flows: flows(f)})
			env.ExecuteWorkflow("typed", input)
			requireCompleted(t, env)
			err := env.GetWorkflowError()
			require.ErrorContains(t, err, "input is not valid JSON for its parameters")
			var app *temporal.ApplicationError
			require.ErrorAs(t, err, &app)
			require.True(t, app.NonRetryable())
			require.False(t, bodyRan)
			require.Equal(t, []string{"on-fail on_failure Failed"}, j.Lines())
			h := env.History()
			require.Equal(t, []string{"Scheduled", "Failed"}, flowNames(h))
			require.Contains(t, h.State.Message, "input is not valid JSON")
		})
	}

	t.Run("valid input runs", func(t *testing.T) {
		j.lines, bodyRan = nil, false
		env := newEnv(t, worker.Options{Flows: flows(f)})
		env.ExecuteWorkflow("typed", json.RawMessage(`{"x": "foo", "y": 42}`))
		require.NoError(t, env.GetWorkflowError())
		require.True(t, bodyRan)
	})
}

// SPEC §3: a flow attempt that runs past its timeout ends Failed named TimedOut, after retries.
func TestFlowTimeoutEndsTimedOut(t *testing.T) {
	j := &journal{}
	f := adapter.NewFlow("slow-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, workflow.Sleep(ctx, time.Hour)
	}, adapter.FlowOptions{
		Timeout:   time.Minute,
		Retries:   1,
		OnFailure: []hooks.FlowHook{j.flowHook("on-fail", nil)},
		OnCrashed: []hooks.FlowHook{j.flowHook("on-crash", nil)},
	})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, nil)
	requireCompleted(t, env)
	require.ErrorContains(t, env.GetWorkflowError(), "timeout")
	h := env.History()
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "TimedOut"}, flowNames(h))
	require.Equal(t, hooks.Failed, h.State.Type)
	require.Equal(t, []string{"on-fail on_failure TimedOut"}, j.Lines())
}

// SPEC §4: a run started with a server-side execution timeout ends itself DeadlineGrace before
// it — Failed named TimedOut, on_failure run in the workflow, no on_crashed — even with retries
// left, as the server would not retry it past its execution timeout.
func TestServerDeadlineEndsTheRunItself(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		ended time.Duration // the workflow time at which the run ends
	}{
		{"default grace", 0, 9 * time.Minute},
		{"grace of 30s", 30 * time.Second, 9*time.Minute + 30*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			var ended time.Time
			f := adapter.NewFlow("deadline-flow", func(ctx workflow.Context, _ empty) (empty, error) {
				err := workflow.Sleep(ctx, time.Hour)
				ended = workflow.Now(ctx)
				return empty{}, err
			}, adapter.FlowOptions{
				Retries:       2,
				DeadlineGrace: tc.grace,
				OnFailure:     []hooks.FlowHook{j.flowHook("on-fail", nil)},
				OnCrashed:     []hooks.FlowHook{j.flowHook("on-crash", nil)},
			})
			env := newEnv(t, worker.Options{Flows: flows(f)})
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{WorkflowExecutionTimeout: 10 * time.Minute})
			start := env.Now()
			env.ExecuteFlow(f, nil)
			requireCompleted(t, env)
			require.Error(t, env.GetWorkflowError())
			h := env.History()
			require.Equal(t, []string{"Scheduled", "Running", "TimedOut"}, flowNames(h), h.Timeline())
			require.Equal(t, hooks.Failed, h.State.Type)
			require.Equal(t, "ended itself before its 10m0s server-side timeout", h.State.Message)
			require.Equal(t, []string{"on-fail on_failure TimedOut"}, j.Lines())
			require.Equal(t, tc.ended, ended.Sub(start).Round(time.Second), "the body's context ended then")
		})
	}
}

// SPEC §3: flow retry delays — a list whose last value repeats, and exponential backoff — are
// durable workflow timers of the declared lengths; jitter stretches them within bounds.
func TestFlowRetryDelays(t *testing.T) {
	cases := []struct {
		name   string
		delay  adapter.RetryDelay
		jitter float64
		want   []time.Duration
	}{
		{"list", adapter.DelayList{time.Second, 10 * time.Second}, 0, []time.Duration{time.Second, 10 * time.Second, 10 * time.Second}},
		{"exponential", adapter.ExponentialBackoff{Initial: 2 * time.Second}, 0, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"fixed", adapter.FixedDelay(5 * time.Second), 0, []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := adapter.NewFlow("delayed-"+tc.name, func(ctx workflow.Context, _ empty) (empty, error) {
				return empty{}, errors.New("again")
			}, adapter.FlowOptions{Retries: 3, RetryDelay: tc.delay, RetryJitterFactor: tc.jitter})
			env := newEnv(t, worker.Options{Flows: flows(f)})
			env.ExecuteFlow(f, nil)
			require.Equal(t, tc.want, retryWaits(env.History(), env.History().WorkflowID))
		})
	}

	t.Run("jitter", func(t *testing.T) {
		f := adapter.NewFlow("jittered", func(ctx workflow.Context, _ empty) (empty, error) {
			return empty{}, errors.New("again")
		}, adapter.FlowOptions{Retries: 6, RetryDelay: adapter.FixedDelay(10 * time.Second), RetryJitterFactor: 0.5})
		env := newEnv(t, worker.Options{Flows: flows(f)})
		env.ExecuteFlow(f, nil)
		waits := retryWaits(env.History(), env.History().WorkflowID)
		require.Len(t, waits, 6)
		distinct := map[time.Duration]bool{}
		for _, w := range waits {
			require.Greater(t, w, 10*time.Second)
			require.LessOrEqual(t, w, 15*time.Second)
			distinct[w] = true
		}
		require.Greater(t, len(distinct), 1, "jitter must vary the delay: %v", waits)
	})
}

// retryWaits returns, for each AwaitingRetry of run, the time until the next attempt started.
func retryWaits(h hooks.History, run string) []time.Duration {
	var waits []time.Duration
	var awaiting *hooks.State
	for _, st := range h.States(run) {
		switch {
		case st.Name == hooks.NameAwaitingRetry:
			s := st
			awaiting = &s
		case st.Name == hooks.NameRetrying && awaiting != nil:
			waits = append(waits, st.Timestamp.Sub(awaiting.Timestamp))
			awaiting = nil
		}
	}
	return waits
}

// SPEC §2: a flow hook receives the flow, the flow run (id, run id, name, tags, parameters,
// expected start, attempt, data attached by the flow) and the state.
func TestFlowHookSeesRunInfoAndData(t *testing.T) {
	type params struct {
		Job string `json:"job"`
	}
	j := &journal{}
	f := adapter.NewFlow("resource-flow", func(ctx workflow.Context, p params) (empty, error) {
		if err := adapter.SetRunData(ctx, "resource", "job-"+p.Job); err != nil {
			return empty{}, err
		}
		info := adapter.FlowRunInfo(ctx)
		if info.Name != "nightly-"+p.Job || info.Attempt != 1 {
			return empty{}, errors.New("unexpected run info in flow code")
		}
		return empty{}, nil
	}, adapter.FlowOptions{
		Tags:         []string{"etl", "nightly"},
		RunName:      "nightly-{{.Params.job}}",
		OnCompletion: []hooks.FlowHook{j.flowHook("inspect", nil)},
	})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, params{Job: "42"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, j.flow, 1)
	c := j.flow[0]
	require.Equal(t, "resource-flow", c.Flow.Name)
	require.Equal(t, []string{"etl", "nightly"}, c.Flow.Tags)
	require.Equal(t, "nightly-42", c.Run.Name)
	require.NotEmpty(t, c.Run.ID)
	require.NotEmpty(t, c.Run.RunID)
	require.JSONEq(t, `{"job":"42"}`, string(c.Run.Parameters))
	require.False(t, c.Run.ExpectedStartTime.IsZero())
	require.Equal(t, 1, c.Run.Attempt)
	var res string
	ok, err := c.Run.Lookup("resource", &res)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "job-42", res)
	require.Equal(t, hooks.Completed, c.State.Type)
	require.NotEmpty(t, c.Hook.IdempotencyKey)
	require.Equal(t, json.RawMessage(`"job-42"`), env.History().Data["resource"])
}

// A panic in flow code crashes the attempt (retried like a failure), then the run, running
// on_crashed with the panic's message — no endless workflow-task retry.
func TestFlowPanicCrashes(t *testing.T) {
	j := &journal{}
	f := adapter.NewFlow("panicky", func(ctx workflow.Context, _ empty) (empty, error) {
		panic("flow code blew up")
	}, adapter.FlowOptions{Retries: 1, OnCrashed: []hooks.FlowHook{j.flowHook("on-crash", nil)}})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, nil)
	requireCompleted(t, env)
	require.ErrorContains(t, env.GetWorkflowError(), "flow code blew up")
	h := env.History()
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Crashed"}, flowNames(h))
	require.Equal(t, "panic: flow code blew up", h.State.Message)
	require.Contains(t, h.State.Details, "flow_test.go")
	require.Equal(t, []string{"on-crash on_crashed Crashed"}, j.Lines())
}

// The state history is readable by query while the run is open.
func TestHistoryQueryWhileOpen(t *testing.T) {
	f := adapter.NewFlow("waiting", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, workflow.Sleep(ctx, time.Hour)
	})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	var during []string
	env.RegisterDelayedCallback(func() {
		during = flowNames(env.History())
	}, time.Minute)
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"Scheduled", "Running"}, during)
	require.Equal(t, []string{"Scheduled", "Running", "Completed"}, flowNames(env.History()))
}

var _ = context.Background

// Hooks in ModeLocal (local activities) follow the same rules: order, one call per event, a
// failing hook recorded while the next still runs.
func TestLocalModeHooks(t *testing.T) {
	j := &journal{}
	local := func(h hooks.FlowHook) hooks.FlowHook { return h.WithOptions(hooks.Options{Mode: hooks.ModeLocal}) }
	f := adapter.NewFlow("local-hooks", func(ctx workflow.Context, _ empty) (empty, error) {
		return empty{}, errors.New("oops!")
	}, adapter.FlowOptions{
		Retries:   1,
		OnRunning: []hooks.FlowHook{local(j.flowHook("on-run", nil))},
		OnFailure: []hooks.FlowHook{local(j.flowHook("raises", errors.New("hook exploded"))), local(j.flowHook("notify", nil))},
	})
	env := newEnv(t, worker.Options{Flows: flows(f)})
	env.ExecuteFlow(f, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "oops!")
	require.Equal(t, []string{
		"on-run on_running Running",
		"on-run on_running Retrying",
		"raises on_failure Failed",
		"raises on_failure Failed",
		"notify on_failure Failed",
	}, j.Lines())
	results := env.History().Hooks()
	require.Len(t, results, 4)
	require.Equal(t, hooks.HookFailed, results[2].Status)
	require.Equal(t, hooks.HookCompleted, results[3].Status)
}
