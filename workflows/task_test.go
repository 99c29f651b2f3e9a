package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// SPEC §5 example 3: a task with an on_running hook that records the start time; with retries=2
// and a failing body it fires three times, each before its attempt.
func TestTaskOnRunningFiresEveryAttempt(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var starts []time.Time
	recordStart := hooks.NewTaskHook("record-start-time", func(ctx context.Context, c hooks.TaskCall) error {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, c.State.Timestamp)
		events = append(events, fmt.Sprintf("hook %s attempt %d", c.Task.Name, c.Run.Attempt))
		return nil
	})
	var attempts atomic.Int32
	task := adapter.NewTask("my-task", func(ctx context.Context, _ empty) (string, error) {
		n := attempts.Add(1)
		info := adapter.TaskRunInfo(ctx)
		mu.Lock()
		events = append(events, fmt.Sprintf("body attempt %d", info.Attempt))
		mu.Unlock()
		return "", fmt.Errorf("attempt %d failed", n)
	}, adapter.TaskOptions{Retries: 2, OnRunning: []hooks.TaskHook{recordStart}})
	f := adapter.NewFlow("my-flow", func(ctx workflow.Context, _ empty) (string, error) {
		return task.Run(ctx, empty{})
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "attempt 3 failed")

	require.Equal(t, []string{
		"hook my-task attempt 1", "body attempt 1",
		"hook my-task attempt 2", "body attempt 2",
		"hook my-task attempt 3", "body attempt 3",
	}, events)
	require.Len(t, starts, 3)
	h := env.History()
	run := h.TaskRuns()[0]
	require.Equal(t, []string{"Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"}, h.StateNames(run))
	last := h.States(run)[6]
	require.Equal(t, 3, last.Attempt)
	require.Equal(t, "attempt 3 failed", last.Message)
}

// SPEC §5 example 4: a task given an on_failure hook with bound arguments x="foo", y=42 (Prefect's
// partial); the flow runs it with its state returned and completes; the hook saw
// {x: "foo", y: 42, state: the task's Failed state}.
func TestBoundHookArgumentsWithReturnState(t *testing.T) {
	type kwargs struct {
		X string `json:"x"`
		Y int    `json:"y"`
	}
	type params struct {
		X string `json:"x"`
		Y int    `json:"y"`
	}
	type seen struct {
		Args  kwargs
		State hooks.State
	}
	var data []seen
	myHook := hooks.NewTaskHookWithArgs("my-hook", func(ctx context.Context, c hooks.TaskCall, args kwargs) error {
		data = append(data, seen{Args: args, State: c.State})
		return nil
	})
	badTask := adapter.NewTask("bad-task", func(ctx context.Context, _ empty) (empty, error) {
		return empty{}, errors.New("meh")
	})
	type result struct {
		Bar   string      `json:"bar"`
		State hooks.State `json:"state"`
	}
	okWithFailure := adapter.NewFlow("ok-with-failure-flow", func(ctx workflow.Context, p params) (result, error) {
		withHook := badTask.WithOptions(func(o *adapter.TaskOptions) {
			o.OnFailure = []hooks.TaskHook{myHook.Bind(kwargs{X: p.X, Y: p.Y})}
		})
		_, st := withHook.RunState(ctx, empty{})
		return result{Bar: "bar", State: st}, nil
	})
	env := newEnv(t, worker.Options{
		Flows: flows(okWithFailure), Tasks: tasks(badTask),
		Hooks: []hooks.Definition{myHook}, // attached in flow code, so listed for the worker
	})
	env.ExecuteFlow(okWithFailure, params{X: "foo", Y: 42})
	require.NoError(t, env.GetWorkflowError())
	var res result
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "bar", res.Bar)
	require.Equal(t, hooks.Failed, res.State.Type)
	require.Equal(t, "meh", res.State.Message)

	require.Len(t, data, 1)
	require.Equal(t, kwargs{X: "foo", Y: 42}, data[0].Args)
	require.Equal(t, res.State, data[0].State)
	require.Equal(t, hooks.Completed, env.History().State.Type)
	// The bound arguments travelled in history as JSON.
	require.JSONEq(t, `{"x":"foo","y":42}`, string(env.CallsOf("my-hook")[0].Args))
}

// A task hook receives the task, the task run (with its flow run's id) and the state.
func TestTaskHookSeesTaskRun(t *testing.T) {
	j := &journal{}
	task := adapter.NewTask("tagged", func(ctx context.Context, n int) (int, error) { return n + 1, nil },
		adapter.TaskOptions{Tags: []string{"fast"}, OnCompletion: []hooks.TaskHook{j.taskHook("done", nil)}})
	f := adapter.NewFlow("caller", func(ctx workflow.Context, _ empty) (int, error) {
		out, st := task.RunState(ctx, 41)
		if !st.IsCompleted() {
			return 0, errors.New("expected a completed state")
		}
		return out, nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var out int
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, 42, out)
	require.Len(t, j.task, 1)
	c := j.task[0]
	require.Equal(t, "tagged", c.Task.Name)
	require.Equal(t, []string{"fast"}, c.Task.Tags)
	require.Equal(t, "tagged#1", c.Run.ID)
	require.Equal(t, env.History().WorkflowID, c.Run.FlowRunID)
	require.JSONEq(t, "41", string(c.Run.Parameters))
	require.Equal(t, hooks.Completed, c.State.Type)
}

// SPEC §3: a task attempt past its timeout ends Failed named TimedOut (not Crashed), after retries.
func TestTaskTimeoutEndsTimedOut(t *testing.T) {
	j := &journal{}
	var attempts atomic.Int32
	task := adapter.NewTask("sleepy", func(ctx context.Context, _ empty) (empty, error) {
		attempts.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return empty{}, nil
	}, adapter.TaskOptions{
		Timeout: 100 * time.Millisecond, Retries: 1,
		// The SDK's in-memory environment does not retry start-to-close timeouts itself; with an
		// on_running hook the workflow schedules each attempt, so the retry is flowstate's. The
		// end-to-end tests cover the Temporal server's own retry.
		OnRunning: []hooks.TaskHook{j.taskHook("on-run", nil)},
		OnFailure: []hooks.TaskHook{j.taskHook("on-fail", nil)},
		OnCrashed: []hooks.TaskHook{j.taskHook("on-crash", nil)},
	})
	f := adapter.NewFlow("waits", func(ctx workflow.Context, _ empty) (hooks.State, error) {
		_, st := task.RunState(ctx, empty{})
		return st, nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var st hooks.State
	require.NoError(t, env.GetWorkflowResult(&st))
	require.Equal(t, hooks.Failed, st.Type)
	require.Equal(t, hooks.NameTimedOut, st.Name)
	require.Equal(t, int32(2), attempts.Load())
	require.Equal(t, []string{"on-run on_running Running/1", "on-run on_running Retrying/2", "on-fail on_failure TimedOut/2"}, j.Lines())
}

// SPEC §3: task retry delays as a list (the last repeats) and exponential backoff; observed
// through a task whose attempts the workflow schedules (it has an on_running hook).
func TestTaskRetryDelays(t *testing.T) {
	cases := []struct {
		name  string
		delay adapter.RetryDelay
		want  []time.Duration
	}{
		{"list", adapter.DelayList{time.Second, 30 * time.Second}, []time.Duration{time.Second, 30 * time.Second, 30 * time.Second}},
		{"exponential", adapter.ExponentialBackoff{Initial: time.Second, Multiplier: 3}, []time.Duration{time.Second, 3 * time.Second, 9 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			task := adapter.NewTask("flaky-"+tc.name, func(ctx context.Context, _ empty) (empty, error) {
				return empty{}, errors.New("flaky")
			}, adapter.TaskOptions{Retries: 3, RetryDelay: tc.delay, OnRunning: []hooks.TaskHook{j.taskHook("start", nil)}})
			f := adapter.NewFlow("delays-"+tc.name, func(ctx workflow.Context, _ empty) (empty, error) {
				_, err := task.Run(ctx, empty{})
				return empty{}, err
			})
			env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
			env.ExecuteFlow(f, nil)
			h := env.History()
			require.Equal(t, tc.want, retryWaits(h, h.TaskRuns()[0]))
		})
	}
}

// SPEC §3: a retry condition sees the failed state and decides; one that errors means no retry.
func TestTaskRetryCondition(t *testing.T) {
	errPermanent := errors.New("permanent")
	cases := []struct {
		name      string
		onRunning bool
		cond      func(context.Context, hooks.State, error) (bool, error)
		attempts  int32
	}{
		{"stops on a permanent error", false, func(_ context.Context, st hooks.State, err error) (bool, error) {
			return st.Message != "permanent", nil
		}, 2},
		{"stops on a permanent error, workflow-scheduled attempts", true, func(_ context.Context, st hooks.State, err error) (bool, error) {
			return st.Message != "permanent", nil
		}, 2},
		{"condition error means no retry", false, func(context.Context, hooks.State, error) (bool, error) {
			return false, errors.New("condition broke")
		}, 1},
		{"condition panic means no retry", true, func(context.Context, hooks.State, error) (bool, error) {
			panic("condition panicked")
		}, 1},
		{"always retry", false, func(context.Context, hooks.State, error) (bool, error) { return true, nil }, 5},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var attempts atomic.Int32
			opts := adapter.TaskOptions{Retries: 4, RetryCondition: tc.cond}
			if tc.onRunning {
				opts.OnRunning = []hooks.TaskHook{hooks.NewTaskHook("noop", func(context.Context, hooks.TaskCall) error { return nil })}
			}
			task := adapter.NewTask(fmt.Sprintf("cond-%d", i), func(ctx context.Context, _ empty) (empty, error) {
				if attempts.Add(1) == 2 {
					return empty{}, errPermanent
				}
				return empty{}, errors.New("transient")
			}, opts)
			f := adapter.NewFlow(fmt.Sprintf("cond-flow-%d", i), func(ctx workflow.Context, _ empty) (hooks.State, error) {
				_, st := task.RunState(ctx, empty{})
				return st, nil
			})
			env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
			env.ExecuteFlow(f, nil)
			require.NoError(t, env.GetWorkflowError())
			require.Equal(t, tc.attempts, attempts.Load())
			var st hooks.State
			require.NoError(t, env.GetWorkflowResult(&st))
			require.Equal(t, hooks.Failed, st.Type)
		})
	}
}

// Temporal's retry semantics survive: a non-retryable application error is not retried.
func TestNonRetryableErrorIsNotRetried(t *testing.T) {
	var attempts atomic.Int32
	task := adapter.NewTask("fatal", func(ctx context.Context, _ empty) (empty, error) {
		attempts.Add(1)
		return empty{}, temporal.NewNonRetryableApplicationError("bad request", "BadRequest", nil)
	}, adapter.TaskOptions{Retries: 3})
	f := adapter.NewFlow("fatal-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		_, err := task.Run(ctx, empty{})
		return empty{}, err
	}, adapter.FlowOptions{Retries: 2})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, "BadRequest", app.Type())
	require.True(t, app.NonRetryable())
	// Neither the task nor the flow retried.
	require.Equal(t, int32(1), attempts.Load())
	require.Equal(t, []string{"Scheduled", "Running", "Failed"}, flowNames(env.History()))
}

// Tasks submitted together run concurrently and are awaited (Prefect's .submit()).
func TestConcurrentTasks(t *testing.T) {
	const n = 3
	var running, peak atomic.Int32
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	task := adapter.NewTask("parallel", func(ctx context.Context, i int) (int, error) {
		cur := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		arrived <- struct{}{}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
			return 0, errors.New("the other tasks never ran alongside")
		}
		return i * i, nil
	})
	go func() {
		for range n {
			<-arrived
		}
		close(release)
	}()
	f := adapter.NewFlow("fan-out", func(ctx workflow.Context, _ empty) (int, error) {
		var futures []*adapter.Future[int]
		for i := 1; i <= n; i++ {
			futures = append(futures, task.Submit(ctx, i))
		}
		sum := 0
		for _, fut := range futures {
			v, err := fut.Get(ctx)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
	env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
	env.ExecuteFlow(f, nil)
	require.NoError(t, env.GetWorkflowError())
	var sum int
	require.NoError(t, env.GetWorkflowResult(&sum))
	require.Equal(t, 1+4+9, sum)
	require.Equal(t, int32(n), peak.Load())
	require.Len(t, env.History().TaskRuns(), n)
}

// A panic in task code crashes the attempt with the panic's message and stack; it is retried like
// a failure while retries are left, whether the Temporal server or the workflow schedules the
// attempts.
func TestTaskPanicCrashes(t *testing.T) {
	for _, workflowScheduled := range []bool{false, true} {
		t.Run(fmt.Sprintf("workflow-scheduled=%v", workflowScheduled), func(t *testing.T) {
			j := &journal{}
			var attempts atomic.Int32
			opts := adapter.TaskOptions{Retries: 1, OnCrashed: []hooks.TaskHook{j.taskHook("on-crash", nil)}}
			if workflowScheduled {
				opts.OnRunning = []hooks.TaskHook{j.taskHook("on-run", nil)}
			}
			task := adapter.NewTask("panics", func(ctx context.Context, _ empty) (empty, error) {
				if attempts.Add(1) == 1 {
					panic("first attempt blew up")
				}
				panic("second attempt blew up")
			}, opts)
			f := adapter.NewFlow("handles-crash", func(ctx workflow.Context, _ empty) (hooks.State, error) {
				_, st := task.RunState(ctx, empty{})
				return st, nil
			})
			env := newEnv(t, worker.Options{Flows: flows(f), Tasks: tasks(task)})
			env.ExecuteFlow(f, nil)
			require.NoError(t, env.GetWorkflowError())
			var st hooks.State
			require.NoError(t, env.GetWorkflowResult(&st))
			require.Equal(t, hooks.Crashed, st.Type)
			require.Equal(t, "panic: second attempt blew up", st.Message)
			require.Contains(t, st.Details, "task_test.go")
			require.Equal(t, int32(2), attempts.Load())
			require.Len(t, j.task, len(j.Lines()))
			last := j.task[len(j.task)-1]
			require.Equal(t, hooks.OnCrashed, last.Hook.Event)
			require.Equal(t, "panic: second attempt blew up", last.State.Message)
			if workflowScheduled {
				require.Equal(t, []string{"on-run on_running Running/1", "on-run on_running Retrying/2", "on-crash on_crashed Crashed/2"}, j.Lines())
			}
		})
	}
}

// A subflow is a child workflow with hooks of its own; the parent records it.
func TestSubflowWithOwnHooks(t *testing.T) {
	j := &journal{}
	child := adapter.NewFlow("child-flow", func(ctx workflow.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n * 10, nil
	}, adapter.FlowOptions{
		OnCompletion: []hooks.FlowHook{j.flowHook("child-done", nil)},
		OnFailure:    []hooks.FlowHook{j.flowHook("child-failed", nil)},
	})
	parent := adapter.NewFlow("parent-flow", func(ctx workflow.Context, _ empty) (int, error) {
		v, err := child.RunSubflow(ctx, 4)
		if err != nil {
			return 0, err
		}
		_, st := child.SubflowState(ctx, -1)
		if !st.IsFailed() || st.Message != "negative" {
			return 0, fmt.Errorf("unexpected subflow state %v", st)
		}
		return v, nil
	}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{j.flowHook("parent-done", nil)}})
	env := newEnv(t, worker.Options{Flows: flows(parent, child)})
	env.ExecuteFlow(parent, nil)
	require.NoError(t, env.GetWorkflowError())
	var v int
	require.NoError(t, env.GetWorkflowResult(&v))
	require.Equal(t, 40, v)
	require.Equal(t, []string{
		"child-done on_completion Completed",
		"child-failed on_failure Failed",
		"parent-done on_completion Completed",
	}, j.Lines())
	h := env.History()
	var subflowStates []string
	for _, e := range h.Entries {
		if e.Kind == hooks.KindSubflow && e.State != nil {
			subflowStates = append(subflowStates, e.Run+" "+e.State.Name)
		}
	}
	id := h.WorkflowID
	require.Equal(t, []string{
		id + "/child-flow#1 Running", id + "/child-flow#1 Completed",
		id + "/child-flow#2 Running", id + "/child-flow#2 Failed",
	}, subflowStates)
	// The child's hooks saw it as a subflow of the parent.
	require.Equal(t, id, j.flow[0].Run.ParentID)
}
