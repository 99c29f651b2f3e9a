package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// Task is a task definition: a function of a context.Context and a typed input, run as the
// Temporal activity type named after the task. Build it with NewTask; call it from flow code with
// Run, Submit or RunState.
type Task[I, O any] struct {
	name string
	fn   func(context.Context, I) (O, error)

	mu   sync.RWMutex
	opts TaskOptions
	err  error
	// isCopy is set on the copies WithOptions makes.
	isCopy bool
}

// NewTask defines a task. name is its Temporal activity type and must be unique on a worker. opts,
// at most one, configure it; a problem with them is reported by Err and by the worker that
// registers the task.
func NewTask[I, O any](name string, fn func(ctx context.Context, input I) (O, error), opts ...TaskOptions) *Task[I, O] {
	t := &Task[I, O]{name: name, fn: fn}
	switch {
	case name == "":
		t.err = fmt.Errorf("%w: a task needs a name", ErrInvalidOptions)
	case strings.HasPrefix(name, names.Reserved):
		t.err = fmt.Errorf("%w: task %q: names starting with %q are flowstate's own", ErrInvalidOptions, name, names.Reserved)
	case fn == nil:
		t.err = fmt.Errorf("%w: task %q has no function", ErrInvalidOptions, name)
	case len(opts) > 1:
		t.err = fmt.Errorf("%w: task %q: give at most one TaskOptions", ErrInvalidOptions, name)
	case len(opts) == 1:
		t.opts = opts[0]
	}
	flowctx.RegisterCondition(t.opts.RetryCondition)
	return t
}

// Name returns the task's name, its Temporal activity type.
func (t *Task[I, O]) Name() string { return t.name }

// Options returns a copy of the task's options.
func (t *Task[I, O]) Options() TaskOptions {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneTaskOptions(t.opts)
}

// Err reports what is wrong with the definition, or nil.
func (t *Task[I, O]) Err() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.err != nil {
		return t.err
	}
	if err := t.opts.Validate(); err != nil {
		return fmt.Errorf("task %q: %w", t.name, err)
	}
	return nil
}

// ActivityFunc returns the function the worker registers as the task's activity.
func (t *Task[I, O]) ActivityFunc() any { return t.fn }

// WithOptions returns a copy of the task with options changed by edit: Prefect's with_options.
// The copy runs as the same activity type, so the worker needs no new registration; hooks it
// attaches must be registered on the worker (attach them at definition time too, or list them in
// worker.Options.Hooks).
func (t *Task[I, O]) WithOptions(edit func(*TaskOptions)) *Task[I, O] {
	c := &Task[I, O]{name: t.name, fn: t.fn, err: t.err, opts: t.Options(), isCopy: true}
	edit(&c.opts)
	flowctx.RegisterCondition(c.opts.RetryCondition) // the activity side finds the copy's condition by its name
	return c
}

// OnRunning attaches hooks that run before the body on every attempt, after those already
// attached. Like Prefect's @task.on_running, it changes the definition: call it before the worker
// starts. It returns t.
func (t *Task[I, O]) OnRunning(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnRunning = append(o.OnRunning, h...) })
}

// OnCompletion attaches hooks that run when a task run completes. See OnRunning.
func (t *Task[I, O]) OnCompletion(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnCompletion = append(o.OnCompletion, h...) })
}

// OnFailure attaches hooks that run when a task run fails after its retries. See OnRunning.
func (t *Task[I, O]) OnFailure(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnFailure = append(o.OnFailure, h...) })
}

// OnCancellation attaches hooks that run when a task run is cancelled with its flow. See OnRunning.
func (t *Task[I, O]) OnCancellation(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnCancellation = append(o.OnCancellation, h...) })
}

// OnCrashed attaches hooks that run when a task run crashes. See OnRunning.
func (t *Task[I, O]) OnCrashed(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnCrashed = append(o.OnCrashed, h...) })
}

// OnCommit attaches hooks that run when the transaction a task run completed in commits. See
// OnRunning and Transaction.
func (t *Task[I, O]) OnCommit(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnCommit = append(o.OnCommit, h...) })
}

// OnRollback attaches hooks that undo a task run when the transaction it completed in rolls back.
// See OnRunning and Transaction.
func (t *Task[I, O]) OnRollback(h ...hooks.TaskHook) *Task[I, O] {
	return t.attach(func(o *TaskOptions) { o.OnRollback = append(o.OnRollback, h...) })
}

func (t *Task[I, O]) attach(edit func(*TaskOptions)) *Task[I, O] {
	t.mu.Lock()
	defer t.mu.Unlock()
	edit(&t.opts)
	return t
}

// Run calls the task from flow code and waits for its result: Prefect's my_task(x). The error
// is the task's error after its retries, as Temporal reports it (a *temporal.ActivityError).
func (t *Task[I, O]) Run(ctx workflow.Context, input I) (O, error) {
	return t.Submit(ctx, input).Get(ctx)
}

// RunState calls the task and returns its final state instead of an error: Prefect's
// my_task(x, return_state=True). The result is the zero value unless the state is Completed.
func (t *Task[I, O]) RunState(ctx workflow.Context, input I) (O, hooks.State) {
	return t.Submit(ctx, input).State(ctx)
}

// Submit starts the task and returns at once: Prefect's my_task.submit(x). Several submitted tasks
// run concurrently; wait for each with Future.Get or Future.State.
func (t *Task[I, O]) Submit(ctx workflow.Context, input I) *Future[O] {
	opts := t.Options()
	call := &flowctx.Call{
		Task:    hooks.TaskInfo{Name: t.name, Tags: opts.Tags, Retries: opts.Retries},
		Options: opts,
		Copy:    t.isCopy,
	}
	if err := t.Err(); err != nil {
		return failedFuture[O](ctx, call, temporal.NewNonRetryableApplicationError(err.Error(), "flowstate.InvalidTask", err))
	}
	if opts.HasHooks() { // only hooks see a task run's parameters
		params, err := json.Marshal(input)
		if err != nil {
			err = fmt.Errorf("flowstate: task %q: input is not serialisable as JSON: %w", t.name, err)
			return failedFuture[O](ctx, call, temporal.NewNonRetryableApplicationError(err.Error(), names.ErrTypeInvalidInput, err))
		}
		call.Parameters = params
	}
	if run := flowctx.RunFrom(ctx); run != nil {
		call.ID = run.NextID(t.name)
	}
	actx := workflow.WithActivityOptions(flowctx.WithCall(ctx, call), ActivityOptions(call.ID, opts))
	return &Future[O]{f: workflow.ExecuteActivity(actx, t.name, input), call: call}
}

// ActivityOptions returns the Temporal activity options a task call with these options uses.
// Retries are the Temporal server's; the flowstate interceptor schedules each attempt itself
// instead when the task has on_running hooks.
func ActivityOptions(activityID string, o TaskOptions) workflow.ActivityOptions {
	ao := workflow.ActivityOptions{
		ActivityID:          activityID,
		TaskQueue:           o.TaskQueue,
		StartToCloseTimeout: o.Timeout,
		HeartbeatTimeout:    o.HeartbeatTimeout,
		WaitForCancellation: true,
		RetryPolicy:         RetryPolicy(o),
	}
	if ao.StartToCloseTimeout == 0 {
		ao.StartToCloseTimeout = noTimeout
	}
	if ao.HeartbeatTimeout == 0 {
		ao.HeartbeatTimeout = DefaultTaskHeartbeatTimeout
	}
	return ao
}

// noTimeout stands for "no timeout" where Temporal requires one.
const noTimeout = 10 * 365 * 24 * time.Hour

// RetryPolicy returns the Temporal retry policy for a task's options: MaximumAttempts is
// Retries+1. Delays that Temporal cannot express (lists, jitter) are set attempt by attempt by the
// flowstate activity interceptor.
func RetryPolicy(o TaskOptions) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{MaximumAttempts: int32(o.Retries) + 1, BackoffCoefficient: 1, InitialInterval: time.Millisecond}
	switch d := o.RetryDelay.(type) {
	case FixedDelay:
		if d > 0 {
			p.InitialInterval = time.Duration(d)
		}
	case ExponentialBackoff:
		if d.Initial > 0 {
			p.InitialInterval = d.Initial
		}
		p.BackoffCoefficient = d.multiplier()
		p.MaximumInterval = d.Max
		if p.MaximumInterval == 0 {
			p.MaximumInterval = noTimeout // Temporal would cap at 100× the initial interval
		}
	case DelayList:
		if len(d) > 0 && d[0] > 0 {
			p.InitialInterval = d[0]
		}
	}
	return p
}

// Future is a submitted task's pending result: Prefect's PrefectFuture.
type Future[O any] struct {
	f    workflow.Future
	call *flowctx.Call
}

func failedFuture[O any](ctx workflow.Context, call *flowctx.Call, err error) *Future[O] {
	f, set := workflow.NewFuture(ctx)
	set.SetError(err)
	st := classify.Attempt(err, workflow.Now(ctx), 0).State
	call.Final = &st
	return &Future[O]{f: f, call: call}
}

// Get waits for the task run and returns its result or its error.
func (f *Future[O]) Get(ctx workflow.Context) (O, error) {
	var out O
	err := f.f.Get(ctx, &out)
	return out, err
}

// State waits for the task run and returns its result (zero unless Completed) and final state.
func (f *Future[O]) State(ctx workflow.Context) (O, hooks.State) {
	out, err := f.Get(ctx)
	if f.call.Final != nil {
		return out, *f.call.Final
	}
	// No flowstate interceptor recorded the state: derive it from the outcome.
	return out, classify.Attempt(err, workflow.Now(ctx), 0).State
}

// IsReady reports whether the task run has ended.
func (f *Future[O]) IsReady() bool { return f.f.IsReady() }

// Underlying returns the Temporal future, for use with a workflow.Selector.
func (f *Future[O]) Underlying() workflow.Future { return f.f }

// TaskRunID returns the task run's ID, or "" when no flowstate interceptor manages the flow.
func (f *Future[O]) TaskRunID() string { return f.call.ID }

func cloneTaskOptions(o TaskOptions) TaskOptions {
	o.Tags = append([]string(nil), o.Tags...)
	o.OnRunning = append([]hooks.TaskHook(nil), o.OnRunning...)
	o.OnCompletion = append([]hooks.TaskHook(nil), o.OnCompletion...)
	o.OnFailure = append([]hooks.TaskHook(nil), o.OnFailure...)
	o.OnCancellation = append([]hooks.TaskHook(nil), o.OnCancellation...)
	o.OnCrashed = append([]hooks.TaskHook(nil), o.OnCrashed...)
	o.OnCommit = append([]hooks.TaskHook(nil), o.OnCommit...)
	o.OnRollback = append([]hooks.TaskHook(nil), o.OnRollback...)
	if l, ok := o.RetryDelay.(DelayList); ok {
		o.RetryDelay = append(DelayList(nil), l...)
	}
	return o
}
