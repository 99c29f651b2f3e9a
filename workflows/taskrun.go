package workflows

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
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
	"github.com/flowstate/flowstate/internal/taskrun"
)

// taskCall is one task run: an activity call made by a flow (through adapter.Task or
// workflow.ExecuteActivity), or a plain activity with hooks attached by name.
//
// A task whose plan has no on_running hooks is scheduled once and retried by the Temporal
// server, as a plain activity is: it costs no extra history, and its activity side reports every
// attempt with the call's outcome. A task with on_running hooks has each attempt scheduled by the
// workflow, so that its hooks run before each.
type taskCall struct {
	o    *outbound
	run  *flowRun // nil outside a flow run
	ctx  workflow.Context
	call *flowctx.Call
	opts adapter.TaskOptions
	plan taskPlan
	typ  string
	args []any
	info hooks.TaskRun
	task hooks.TaskInfo
	// policy decides the retries of attempts the workflow schedules.
	policy attemptPolicy
	// adapterCall is set for a call made through adapter.Task.
	adapterCall bool
	// tx is the transaction the call was made in, if any.
	tx *transaction
	// cancelling is set once the run entered Cancelling.
	cancelling bool
}

// newTaskCall returns the task run an activity call starts, or nil for an activity flowstate
// leaves alone: a plain activity, with no hooks in its plan, in a workflow that is not a flow.
func newTaskCall(ctx workflow.Context, o *outbound, typ string, args []any) (*taskCall, error) {
	in := o.in
	t := &taskCall{o: o, run: in.run, ctx: ctx, typ: typ, args: args, call: flowctx.CallFrom(ctx)}
	ao := workflow.GetActivityOptions(ctx)
	adapterCall := t.call != nil
	if adapterCall {
		t.opts, _ = t.call.Options.(adapter.TaskOptions)
	} else {
		t.opts = in.root.opts.Tasks[typ]
		t.call = &flowctx.Call{}
	}
	index := 0
	if t.call.ID == "" {
		t.call.ID, index = in.nextID(typ)
	} else {
		index = idIndex(t.call.ID)
	}
	legacy := in.legacy()
	plan, err := in.taskPlanFor(ctx, typ, t.call.ID, index, t.opts, adapterCall && t.call.Copy, legacy)
	if err != nil {
		return nil, err
	}
	t.plan = plan
	if !adapterCall && t.run == nil && plan.zero() {
		return nil, nil
	}
	if !adapterCall && !plan.zero() {
		t.call.Parameters = parameters(args) // only hooks see a task run's parameters
	}
	if adapterCall || legacy {
		// An adapter task's activity ID is its task run ID. flowstate v0.1 gave plain
		// activities one too; later versions leave them the IDs the SDK gives them.
		if ao.ActivityID != t.call.ID {
			ao.ActivityID = t.call.ID
		}
	}
	t.adapterCall = adapterCall
	if adapterCall {
		if !plan.zero() && !legacy {
			// The run's plan, not the task's current options, says how the server retries it.
			ao.RetryPolicy = adapter.RetryPolicy(adapter.TaskOptions{Retries: plan.Retry.Retries, RetryDelay: plan.Retry.Delay.RetryDelay()})
		}
		if ao.Summary == "" && !legacy {
			ao.Summary = "task " + typ
		}
		t.policy = t.taskPolicy()
	} else {
		t.policy = serverPolicy(ao.RetryPolicy) // a plain activity keeps its own retry policy
	}
	t.ctx = workflow.WithActivityOptions(ctx, ao)
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
	if tx, ok := flowctx.TxFrom(ctx).(*transaction); ok && t.run != nil && !tx.ended {
		t.tx = tx
		if t.run.txOf == nil {
			t.run.txOf = map[string]*transaction{}
		}
		t.run.txOf[t.info.ID] = tx
	}
	return t, nil
}

// idIndex returns n of a task run ID "name#n".
func idIndex(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '#')+1:])
	return n
}

// taskPolicy returns the retry policy of a task's attempts the workflow schedules.
func (t *taskCall) taskPolicy() attemptPolicy {
	if t.plan.legacy {
		return attemptPolicy{max: t.opts.Retries + 1, wait: t.opts.RetryWait}
	}
	return attemptPolicy{max: t.plan.Retry.Retries + 1, wait: t.plan.Retry.wait}
}

// spec is how the activity side decides the call's retries, as its plan says.
func (t *taskCall) spec(workflowScheduled bool) taskrun.Spec {
	s := taskrun.Spec{Workflow: workflowScheduled}
	if t.plan.zero() {
		s.Retries, s.Delay, s.Jitter = t.opts.Retries, taskrun.EncodeDelay(t.opts.RetryDelay), t.opts.RetryJitterFactor
	} else {
		s.Retries, s.Delay, s.Jitter = t.plan.Retry.Retries, t.plan.Retry.Delay, t.plan.Retry.Jitter
	}
	if t.adapterCall {
		s.Condition = flowctx.RegisterCondition(t.opts.RetryCondition)
	} else {
		s.Condition = taskrun.Registered
	}
	return s
}

// setHeader puts the call's spec (and the attempt, when the workflow schedules it) in the
// header of the activity about to be scheduled with ctx.
func (t *taskCall) setHeader(ctx workflow.Context, attempt int) {
	header := interceptor.WorkflowHeader(ctx)
	if header == nil {
		return
	}
	if p, err := taskrun.EncodeSpec(t.spec(attempt > 0)); err == nil {
		header[taskrun.Header] = p
	}
	if attempt > 0 {
		if p, err := converter.GetDefaultDataConverter().ToPayload(attempt); err == nil {
			header[names.HeaderAttempt] = p
		}
	}
}

// start schedules the task run and returns the future the caller waits on. The future is ready
// once the run's terminal hooks have finished and its final state is recorded.
func (t *taskCall) start() workflow.Future {
	ctx := t.ctx
	fut, set := workflow.NewFuture(ctx)
	t.record(ctx, t.state(ctx, hooks.Pending, hooks.NamePending, 0))
	workflowScheduled := t.plan.workflowScheduled()
	if t.plan.legacy {
		workflowScheduled = len(t.opts.OnRunning) > 0
	}
	if !workflowScheduled {
		t.setHeader(ctx, 0)
		inner := t.o.Next.ExecuteActivity(ctx, t.typ, t.args...)
		workflow.Go(ctx, func(gctx workflow.Context) {
			raw, err := t.await(gctx, inner, 0)
			t.end(gctx, t.serverOutcome(gctx, raw, err), raw, err, set)
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
		t.setHeader(actx, attempt)
		inner := t.o.Next.ExecuteActivity(actx, t.typ, t.args...)
		raw, err := t.await(ctx, inner, attempt)
		out := t.outcome(hctx, err, attempt)
		if t.cancelling && err == nil && !t.plan.legacy {
			out.State.Type, out.State.Name = hooks.Cancelled, hooks.NameCancelled
		}
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

// serverOutcome classifies the outcome of a task whose attempts the Temporal server ran, and
// records the attempts its activity side reported: Running or Retrying for each, AwaitingRetry
// with the error of each but the last.
func (t *taskCall) serverOutcome(ctx workflow.Context, raw converter.RawValue, err error) hooks.State {
	log := attemptLog(raw, err)
	attempt := 0
	if n := len(log); n > 0 {
		attempt = log[n-1].N
	}
	if attempt == 0 && err != nil {
		var act *temporal.ActivityError
		if errors.As(err, &act) && act.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
			attempt = t.policy.max
		}
	}
	if !t.plan.legacy && !t.cancelling {
		// (A cancelled run's history goes Pending, Cancelling, Cancelled: its final state carries
		// the attempt.)
		// end records the final state next, with nothing in between that blocks: the details
		// are rendered once, then.
		if t.run != nil {
			t.run.rec.holdDetails = true
		}
		t.recordAttempts(ctx, log)
		if t.run != nil {
			t.run.rec.holdDetails = false
		}
	}
	st := t.outcome(ctx, err, attempt).State
	if t.cancelling && err == nil && !t.plan.legacy {
		st.Type, st.Name = hooks.Cancelled, hooks.NameCancelled
	}
	return st
}

// recordAttempts records, after the fact, the attempts the Temporal server ran.
func (t *taskCall) recordAttempts(ctx workflow.Context, log taskrun.Log) {
	for i, a := range log {
		running := hooks.NewState(hooks.Running, a.Started)
		running.Attempt = a.N
		if a.N > 1 {
			running.Name = hooks.NameRetrying
		}
		t.record(ctx, running)
		if i == len(log)-1 {
			break
		}
		awaiting := hooks.NewState(hooks.Scheduled, a.Ended)
		awaiting.Name, awaiting.Attempt = hooks.NameAwaitingRetry, a.N
		awaiting.Message, awaiting.ErrorType = a.Error, a.ErrorType
		if a.Ended.IsZero() {
			awaiting.Timestamp = log[i+1].Started
			awaiting.Message, awaiting.ErrorType = "worker lost: the attempt's worker stopped heartbeating", "HeartbeatTimeout"
		}
		t.record(ctx, awaiting)
	}
}

// attemptLog returns the attempts a task's activity side reported with its outcome: in the
// result's metadata, in an error's details, or in a timeout's last heartbeat.
func attemptLog(raw converter.RawValue, err error) taskrun.Log {
	if err == nil {
		log, _, _ := taskrun.FromPayload(raw.Payload())
		return log
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		if log := logInDetails(app.Details); log != nil {
			return log
		}
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.HasLastHeartbeatDetails() {
		return logInDetails(timeout.LastHeartbeatDetails)
	}
	return nil
}

// logInDetails finds the attempt log among the first details of an error.
func logInDetails(get func(...any) error) taskrun.Log {
	raws := make([]converter.RawValue, 8)
	ptrs := make([]any, len(raws))
	for i := range raws {
		ptrs[i] = &raws[i]
	}
	_ = get(ptrs...)
	for _, r := range raws {
		if log, ok, _ := taskrun.FromPayload(r.Payload()); ok {
			return log
		}
	}
	return nil
}

// outcome classifies an attempt's result; attempt is 0 when not known.
func (t *taskCall) outcome(ctx workflow.Context, err error, attempt int) classify.Outcome {
	return classify.Attempt(err, workflow.Now(ctx), attempt)
}

// end records the final state, runs its hooks and makes the caller's future ready.
func (t *taskCall) end(ctx workflow.Context, st hooks.State, raw converter.RawValue, err error, set workflow.Settable) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	t.record(hctx, st)
	if e, ok := hooks.EventFor(st); ok && st.IsTerminal() {
		t.runHooks(hctx, e, st)
	}
	t.joinTx(hctx, st, raw)
	t.call.Final = &st
	if st.Type == hooks.Cancelled && err == nil && !t.plan.legacy {
		// A task that finished after it was cancelled is Cancelled, to the flow too.
		err = temporal.NewCanceledError()
	}
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

// runHooks calls the task's hooks for event e, as its plan lists them, one after another,
// recording each outcome.
func (t *taskCall) runHooks(ctx workflow.Context, e hooks.Event, st hooks.State) {
	for i, spec := range t.plan.Hooks[e] {
		info := t.info
		info.Attempt = st.Attempt
		inv := hooks.Invocation{
			Hook: spec.Name, Event: e, Args: spec.Args, State: st,
			Key:  hookKey(info.FlowRunID, info.FlowRunRunID, info.ID, e, st.Attempt, i),
			Task: &t.task, TaskRun: &info,
		}
		err := t.o.in.root.callHook(ctx, spec, inv, workflow.GetInfo(ctx).TaskQueueName)
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
