package workflows

import (
	"errors"
	"math"
	"slices"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// taskCall is one task run: an activity call made by a flow (through adapter.Task or
// workflow.ExecuteActivity), or a plain activity with hooks attached by name.
//
// A task without on_running hooks is scheduled once and retried by the Temporal server, as a
// plain activity is: it costs no extra history. A task with on_running hooks has each attempt
// scheduled by the workflow, so that its hooks run before each attempt.
type taskCall struct {
	o      *outbound
	run    *flowRun // nil outside a flow run
	ctx    workflow.Context
	call   *flowctx.Call
	opts   adapter.TaskOptions
	typ    string
	args   []any
	info   hooks.TaskRun
	task   hooks.TaskInfo
	policy attemptPolicy
	// cancelling is set once the run entered Cancelling.
	cancelling bool
}

// newTaskCall returns the task run an activity call starts, or nil for an activity flowstate
// leaves alone (a plain activity, without hooks by name, in a workflow that is not a flow).
func newTaskCall(ctx workflow.Context, o *outbound, typ string, args []any) *taskCall {
	t := &taskCall{o: o, run: o.in.run, ctx: ctx, typ: typ, args: args, call: flowctx.CallFrom(ctx)}
	ao := workflow.GetActivityOptions(ctx)
	if t.call != nil {
		t.opts, _ = t.call.Options.(adapter.TaskOptions)
		t.policy = taskPolicy(t.opts)
	} else {
		opts, byName := o.in.root.opts.Tasks[typ]
		if !byName && t.run == nil {
			return nil
		}
		t.opts = opts
		t.call = &flowctx.Call{ID: ao.ActivityID, Options: opts}
		if opts.HasHooks() { // only hooks see a task run's parameters
			t.call.Parameters = parameters(args)
		}
		t.policy = serverPolicy(ao.RetryPolicy)
	}
	if t.call.ID == "" {
		t.call.ID = o.in.nextID(typ)
	}
	if ao.ActivityID != t.call.ID {
		ao.ActivityID = t.call.ID
		t.ctx = workflow.WithActivityOptions(ctx, ao)
	}
	retries := t.policy.max - 1
	if t.policy.max == 0 {
		retries = -1 // unlimited
	}
	t.task = hooks.TaskInfo{Name: typ, Tags: t.opts.Tags, Retries: retries}
	wi := workflow.GetInfo(ctx)
	t.info = hooks.TaskRun{
		ID: t.call.ID, TaskName: typ, FlowRunID: wi.WorkflowExecution.ID, FlowRunRunID: wi.WorkflowExecution.RunID,
		FlowName: wi.WorkflowType.Name, Namespace: wi.Namespace, Tags: t.opts.Tags, Parameters: t.call.Parameters,
	}
	return t
}

// start schedules the task run and returns the future the caller waits on. The future is ready
// once the run's terminal hooks have finished and its final state is recorded.
func (t *taskCall) start() workflow.Future {
	ctx := t.ctx
	fut, set := workflow.NewFuture(ctx)
	t.record(ctx, t.state(ctx, hooks.Pending, hooks.NamePending, 0))
	if len(t.opts.OnRunning) == 0 {
		inner := t.o.Next.ExecuteActivity(ctx, t.typ, t.args...)
		workflow.Go(ctx, func(gctx workflow.Context) {
			raw, err := t.await(gctx, inner, 0)
			t.end(gctx, t.outcome(gctx, err, 0).State, raw, err, set)
		})
		return fut
	}
	workflow.Go(ctx, func(gctx workflow.Context) { t.attempts(gctx, set) })
	return fut
}

// attempts schedules each attempt itself: on_running hooks, the attempt, and a durable wait
// before a retry.
func (t *taskCall) attempts(ctx workflow.Context, set workflow.Settable) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	ao := workflow.GetActivityOptions(ctx)
	ao.RetryPolicy = &temporal.RetryPolicy{MaximumAttempts: 1}
	actx := workflow.WithActivityOptions(ctx, ao)
	header := interceptor.WorkflowHeader(actx)
	for attempt := 1; ; attempt++ {
		running := t.state(ctx, hooks.Running, hooks.NameRunning, attempt)
		if attempt > 1 {
			running.Name = hooks.NameRetrying
		}
		t.record(hctx, running)
		t.runHooks(hctx, hooks.OnRunning, running)
		if ctx.Err() != nil {
			t.enterCancelling(hctx, attempt)
			err := temporal.NewCanceledError()
			t.end(hctx, t.outcome(hctx, err, attempt).State, converter.RawValue{}, err, set)
			return
		}
		if header != nil {
			if p, err := dataConverter.ToPayload(attempt); err == nil {
				header[names.HeaderAttempt] = p
			}
		}
		inner := t.o.Next.ExecuteActivity(actx, t.typ, t.args...)
		raw, err := t.await(ctx, inner, attempt)
		out := t.outcome(hctx, err, attempt)
		if err == nil || t.cancelling || out.State.Type == hooks.Cancelled || !out.Retryable || !t.policy.allows(attempt, err) {
			t.end(hctx, out.State, raw, err, set)
			return
		}
		awaiting := out.State
		awaiting.Type, awaiting.Name = hooks.Scheduled, hooks.NameAwaitingRetry
		t.record(hctx, awaiting)
		if wait := t.policy.wait(attempt, jitter(t.info.FlowRunID, t.info.FlowRunRunID, t.info.ID, attempt)); wait > 0 {
			if workflow.Sleep(ctx, wait) != nil {
				t.enterCancelling(hctx, attempt)
				err := temporal.NewCanceledError()
				t.end(hctx, t.outcome(hctx, err, attempt).State, converter.RawValue{}, err, set)
				return
			}
		}
	}
}

// await waits for one attempt's activity. If the run is cancelled first, the task run enters
// Cancelling and its on_cancellation hooks run while Temporal cancels the activity.
func (t *taskCall) await(ctx workflow.Context, inner workflow.Future, attempt int) (converter.RawValue, error) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(inner, func(workflow.Future) {})
	sel.AddReceive(ctx.Done(), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.Select(hctx)
	if !inner.IsReady() {
		t.enterCancelling(hctx, attempt)
	}
	var raw converter.RawValue
	err := inner.Get(hctx, &raw)
	return raw, err
}

func (t *taskCall) enterCancelling(hctx workflow.Context, attempt int) {
	if t.cancelling {
		return
	}
	t.cancelling = true
	st := t.state(hctx, hooks.Cancelling, hooks.NameCancelling, attempt)
	t.record(hctx, st)
	t.runHooks(hctx, hooks.OnCancellation, st)
}

// outcome classifies an attempt's result. attempt is 0 when the Temporal server ran the attempts.
func (t *taskCall) outcome(ctx workflow.Context, err error, attempt int) classify.Outcome {
	if attempt == 0 && err != nil {
		var act *temporal.ActivityError
		if errors.As(err, &act) && act.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
			attempt = t.policy.max
		}
	}
	return classify.Attempt(err, workflow.Now(ctx), attempt)
}

// end records the final state, runs its hooks and makes the caller's future ready.
func (t *taskCall) end(ctx workflow.Context, st hooks.State, raw converter.RawValue, err error, set workflow.Settable) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	t.record(hctx, st)
	if e, ok := hooks.EventFor(st); ok && st.IsTerminal() {
		t.runHooks(hctx, e, st)
	}
	t.call.Final = &st
	switch {
	case err != nil:
		set.SetError(err)
	case raw.Payload() != nil:
		set.Set(&commonpb.Payloads{Payloads: []*commonpb.Payload{raw.Payload()}}, nil)
	default:
		set.Set(nil, nil)
	}
}

func (t *taskCall) state(ctx workflow.Context, typ hooks.StateType, name string, attempt int) hooks.State {
	st := hooks.NewState(typ, workflow.Now(ctx))
	st.Name, st.Attempt = name, attempt
	return st
}

func (t *taskCall) record(ctx workflow.Context, st hooks.State) {
	if t.run != nil {
		t.run.rec.runEntry(ctx, hooks.KindTask, t.info.ID, t.typ, st)
	}
}

// runHooks calls the task's hooks for event e one after another, recording each outcome.
func (t *taskCall) runHooks(ctx workflow.Context, e hooks.Event, st hooks.State) {
	list := t.opts.Hooks(e)
	for i, h := range list {
		info := t.info
		info.Attempt = st.Attempt
		inv := hooks.Invocation{
			Hook: h.Name(), Event: e, Args: h.Args(), State: st,
			Key:  hookKey(info.FlowRunID, info.FlowRunRunID, info.ID, e, st.Attempt, i),
			Task: &t.task, TaskRun: &info,
		}
		err := t.o.in.root.callHook(ctx, h.Err(), h.Options(), inv, workflow.GetInfo(ctx).TaskQueueName)
		if t.run != nil {
			t.run.rec.hookEntry(ctx, hooks.KindTask, t.info.ID, t.typ, inv, err)
		} else if err != nil {
			workflow.GetLogger(ctx).Warn("flowstate: task hook failed after its retries", "hook", inv.Hook, "event", e, "task", t.info.ID, "error", classify.Message(err))
		}
	}
}

// attemptPolicy decides retries of workflow-scheduled attempts.
type attemptPolicy struct {
	max          int // attempts in all; 0 means unlimited
	wait         func(retry int, u float64) time.Duration
	nonRetryable []string
}

func (p attemptPolicy) allows(attempt int, err error) bool {
	if p.max > 0 && attempt >= p.max {
		return false
	}
	var app *temporal.ApplicationError
	return !(errors.As(err, &app) && slices.Contains(p.nonRetryable, app.Type()))
}

func taskPolicy(o adapter.TaskOptions) attemptPolicy {
	return attemptPolicy{max: o.Retries + 1, wait: o.RetryWait}
}

// serverPolicy reproduces a Temporal retry policy (nil means the server's default) for attempts
// the workflow schedules itself.
func serverPolicy(p *temporal.RetryPolicy) attemptPolicy {
	rp := temporal.RetryPolicy{}
	if p != nil {
		rp = *p
	}
	if rp.InitialInterval <= 0 {
		rp.InitialInterval = time.Second
	}
	if rp.BackoffCoefficient < 1 {
		rp.BackoffCoefficient = 2
	}
	if rp.MaximumInterval <= 0 {
		rp.MaximumInterval = 100 * rp.InitialInterval
	}
	return attemptPolicy{
		max:          int(rp.MaximumAttempts),
		nonRetryable: rp.NonRetryableErrorTypes,
		wait: func(retry int, _ float64) time.Duration {
			d := float64(rp.InitialInterval) * math.Pow(rp.BackoffCoefficient, float64(retry-1))
			return time.Duration(math.Min(d, float64(rp.MaximumInterval)))
		},
	}
}
