package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"strings"
	"text/template"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// flowRun is the state machine of one flow run: one workflow execution of a flow, with its
// attempts, its task runs' transitions and its hook calls, following its plan.
type flowRun struct {
	in   *inbound
	ctx  workflow.Context // the workflow's root context, for reading workflow time
	opts adapter.FlowOptions
	plan flowPlan
	flow hooks.FlowInfo
	info hooks.FlowRun
	rec  recorder
	// chain is what the run before this one handed over, when this run continued it as new.
	chain *chainState

	// cancelRequested is set when Temporal asks the run to cancel; cancelHooksDone once the
	// on_cancellation hooks have finished.
	cancelRequested bool
	cancelHooksDone bool
	// finishing is set once the run entered its terminal state: a late cancellation is ignored.
	finishing bool
	// deadlineHit is set when the run ended itself ahead of its server-side timeout.
	deadlineHit bool
	// dirty holds the data keys attached and not yet written to the memo.
	dirty map[string]bool
	// txs are the open transactions, in the order they were opened; txOf maps the task runs of
	// transactions to them; warnedTx lists the tasks with transaction hooks that ran outside one.
	txs      []*transaction
	txOf     map[string]*transaction
	warnedTx map[string]bool
}

var _ flowctx.Run = (*flowRun)(nil)

// chainState is what a flow run that continues as new hands to the next run of its chain, in
// the memo the next run starts with.
type chainState struct {
	// FirstRunID is the chain's first run; Previous the run that continued as new.
	FirstRunID string `json:"first_run_id"`
	Previous   string `json:"previous"`
	// Seq counts the entries of the chain's state history so far.
	Seq int `json:"seq"`
	// Attempt is the flow attempt the chain is in.
	Attempt int `json:"attempt"`
	// Started is when the chain was due to start: its runs' ExpectedStartTime.
	Started time.Time `json:"started"`
	// IDs continues the numbering of task and subflow runs.
	IDs map[string]int `json:"ids,omitempty"`
	// Runs counts the chain's runs before this one.
	Runs int `json:"runs"`
}

func newFlowRun(ctx workflow.Context, in *inbound, input *interceptor.ExecuteWorkflowInput, plan flowPlan) *flowRun {
	wi := workflow.GetInfo(ctx)
	var opts adapter.FlowOptions
	if in.spec != nil {
		opts = in.spec.Options
	}
	r := &flowRun{
		in:   in,
		ctx:  ctx,
		opts: opts,
		plan: plan,
		flow: hooks.FlowInfo{Name: wi.WorkflowType.Name, Tags: opts.Tags, Retries: plan.Retry.Retries},
	}
	r.info = hooks.FlowRun{
		ID:                wi.WorkflowExecution.ID,
		RunID:             wi.WorkflowExecution.RunID,
		Name:              wi.WorkflowExecution.ID,
		FlowName:          wi.WorkflowType.Name,
		Namespace:         wi.Namespace,
		TaskQueue:         wi.TaskQueueName,
		Tags:              opts.Tags,
		Parameters:        parameters(input.Args),
		ExpectedStartTime: expectedStart(ctx, wi),
		Attempt:           1,
	}
	if wi.ParentWorkflowExecution != nil {
		r.info.ParentID = wi.ParentWorkflowExecution.ID
	}
	r.info.Name = r.runName(ctx)
	sas := workflow.GetTypedSearchAttributes(ctx)
	r.rec = recorder{
		history: hooks.History{Flow: r.flow.Name, WorkflowID: r.info.ID, RunID: r.info.RunID},
		sa:      !plan.NoState,
		details: true,
		tracer:  in.root.opts.Tracer,
	}
	r.rec.startedAs, _ = sas.GetKeyword(stateKey)
	if wi.ContinuedExecutionRunID != "" {
		r.continueChain(ctx, wi)
	}
	return r
}

// continueChain takes over what the run this one continued as new handed over in its memo: the
// chain's position, attempt and data.
func (r *flowRun) continueChain(ctx workflow.Context, wi *workflow.Info) {
	fields := wi.Memo.GetFields()
	var c chainState
	if p, ok := fields[names.MemoChain]; !ok || !decodePayload(ctx, p, &c) {
		return // a plain continue-as-new of a workflow that was not a flow before
	}
	r.chain = &c
	r.rec.seqBase = c.Seq
	r.rec.history.Previous = wi.ContinuedExecutionRunID
	r.rec.history.FirstRunID = c.FirstRunID
	r.info.Attempt = max(c.Attempt, 1)
	if !c.Started.IsZero() {
		r.info.ExpectedStartTime = c.Started
	}
	for k, n := range c.IDs {
		if r.in.ids == nil {
			r.in.ids = map[string]int{}
		}
		r.in.ids[k] = n
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if !strings.HasPrefix(key, names.MemoDataPrefix) {
			continue
		}
		var v json.RawMessage
		if decodePayload(ctx, fields[key], &v) {
			r.rec.setData(strings.TrimPrefix(key, names.MemoDataPrefix), v)
		}
	}
}

// decodePayload decodes p with the workflow's data converter, its payload codec included, as the
// SDK decodes a signal: through a workflow channel.
func decodePayload(ctx workflow.Context, p *commonpb.Payload, ptr any) bool {
	if p == nil {
		return false
	}
	ch := workflow.NewBufferedChannel(ctx, 1)
	ch.SendAsync(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	return ch.ReceiveAsync(ptr)
}

// parameters returns the run's input as JSON: the raw input of an adapter flow, else the
// arguments of a plain workflow (one value, or an array of several).
func parameters(args []any) json.RawMessage {
	switch len(args) {
	case 0:
		return nil
	case 1:
		if raw, ok := args[0].(json.RawMessage); ok {
			return raw
		}
		raw, _ := json.Marshal(args[0])
		return raw
	}
	raw, _ := json.Marshal(args)
	return raw
}

func expectedStart(ctx workflow.Context, wi *workflow.Info) time.Time {
	if scheduled, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartKey); ok {
		return scheduled
	}
	return wi.WorkflowStartTime
}

// runName applies the flow's run-name template, falling back to the workflow ID.
func (r *flowRun) runName(ctx workflow.Context) string {
	name, err := executeRunName(r.opts.RunName, r.info)
	if err != nil {
		workflow.GetLogger(ctx).Warn("flowstate: run name template failed; using the workflow ID", "error", err)
	}
	if err != nil || name == "" {
		return r.info.ID
	}
	return name
}

// executeRunName executes a run-name template with the run's parameters as .Params, and .FlowName,
// .ID and .RunID. An empty template gives an empty name.
func executeRunName(tmplText string, run hooks.FlowRun) (string, error) {
	if tmplText == "" {
		return "", nil
	}
	tmpl, err := template.New("run-name").Option("missingkey=error").Parse(tmplText)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	data := map[string]any{"Params": parseParams(run.Parameters), "FlowName": run.FlowName, "ID": run.ID, "RunID": run.RunID}
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func parseParams(raw json.RawMessage) any {
	var params any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &params)
	}
	return params
}

// Info implements flowctx.Run.
func (r *flowRun) Info() hooks.FlowRun {
	info := r.info
	info.Data = r.rec.dataCopy()
	return info
}

// NextID implements flowctx.Run.
func (r *flowRun) NextID(name string) string {
	id, _ := r.in.nextID(name)
	return id
}

// SetData implements flowctx.Run: it records the data, and publishData keeps it in the run's memo
// so that it outlives a terminated workflow.
func (r *flowRun) SetData(_ workflow.Context, key string, value json.RawMessage) error {
	r.rec.setData(key, value)
	if r.dirty == nil {
		r.dirty = map[string]bool{}
	}
	r.dirty[key] = true
	return nil
}

// publishData writes the data attached since it last ran to the run's memo, one memo field a key,
// so that the memo grows by what changed. It runs in a workflow goroutine of its own because
// signal handlers, where tasks' data arrives, cannot issue commands; it publishes within the
// workflow task that changed the data.
//
// (Earlier versions rendered the run's current details in a second goroutine. It issued no
// command, so rendering them at each transition instead (recorder.refreshDetails) leaves the
// commands of every run, and their order, as they were.)
func (r *flowRun) publishData(ctx workflow.Context) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	for {
		if err := workflow.Await(hctx, func() bool { return len(r.dirty) > 0 }); err != nil {
			return
		}
		fields := make(map[string]any, len(r.dirty))
		for key := range r.dirty {
			fields[names.MemoDataPrefix+key] = r.rec.history.Data[key]
		}
		r.dirty = nil
		if err := workflow.UpsertMemo(hctx, fields); err != nil {
			workflow.GetLogger(hctx).Error("flowstate: writing the run's data to its memo failed", "error", err)
		}
	}
}

// handleDataSignal attaches the data a task sent (adapter.SetRunDataFromTask), decoded with the
// worker's data converter.
func (r *flowRun) handleDataSignal(ctx workflow.Context, input *interceptor.HandleSignalInput) error {
	var sig adapter.RunDataSignal
	ch := workflow.NewBufferedChannel(ctx, 1)
	ch.SendAsync(input.Arg)
	if !ch.ReceiveAsync(&sig) {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring a run data signal that does not decode")
		return nil
	}
	if sig.Key == "" || len(sig.Value) > adapter.MaxRunDataSize {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring run data without a key or over the size limit", "key", sig.Key)
		return nil
	}
	return r.SetData(ctx, sig.Key, sig.Value)
}

// execute runs the flow: input check, attempts with on_running hooks, retries with durable
// waits, cancellation, the server-side deadline, continue-as-new, and the terminal state with its
// hooks.
func (r *flowRun) execute(ctx workflow.Context, input *interceptor.ExecuteWorkflowInput) (any, error) {
	if err := workflow.SetQueryHandler(ctx, names.Query, func(req hooks.PageRequest) (hooks.History, error) {
		return r.rec.page(req), nil
	}); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, QueryCrash, func() (CrashView, error) {
		plan, err := json.Marshal(r.plan)
		return CrashView{Plan: plan, Run: r.Info(), History: r.rec.page(hooks.PageRequest{}), Transactions: r.openTxs()}, err
	}); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, names.QueryTx, r.txView); err != nil {
		return nil, err
	}
	ctx = flowctx.WithRun(ctx, r)
	workflow.Go(ctx, r.publishData)
	// Hooks and bookkeeping run on a context that survives cancellation of the workflow.
	hctx, _ := workflow.NewDisconnectedContext(ctx)

	if r.chain == nil {
		r.rec.flowEntry(hctx, r.info.ID, r.flow.Name, hooks.NewState(hooks.Scheduled, r.info.ExpectedStartTime))
	}
	if v := r.in.spec.validator(); v != nil {
		if err := v(r.info.Parameters); err != nil {
			st := r.state(hooks.Failed, hooks.NameFailed, r.info.Attempt)
			st.Message, st.ErrorType = err.Error(), names.ErrTypeInvalidInput
			return r.finish(hctx, st, nil, temporal.NewNonRetryableApplicationError(err.Error(), names.ErrTypeInvalidInput, err))
		}
	}

	// The body runs on a context of its own, cancelled by watchCancel once the on_cancellation
	// hooks ran (so that the tasks in flight are cancelled after the hooks, not before), or by the
	// server-side deadline.
	deadlineCtx, cancelDeadline := workflow.WithCancel(hctx)
	bodyCtx, cancelBody := workflow.WithCancel(deadlineCtx)
	workflow.Go(ctx, func(gctx workflow.Context) { r.watchCancel(gctx, cancelBody) })
	r.watchDeadline(ctx, hctx, cancelDeadline)

	continued := r.chain != nil
	for attempt := r.info.Attempt; ; attempt++ {
		r.info.Attempt = attempt
		running := r.state(hooks.Running, hooks.NameRunning, attempt)
		if attempt > 1 {
			running.Name = hooks.NameRetrying
		}
		if continued {
			// The chain's attempt goes on in this run: no new attempt, no on_running.
			continued = false
			running.Message = "continued as new from run " + r.rec.history.Previous
			r.transition(hctx, running)
		} else {
			r.transition(hctx, running)
			r.runHooks(hctx, hooks.OnRunning, running)
		}
		if r.cancelRequested {
			return r.finishCancelled(hctx)
		}
		if r.deadlineHit {
			return r.finishDeadline(hctx)
		}

		result, err, crash, timedOut := r.attempt(bodyCtx, input)

		if crash != nil && len(r.txs) > 0 {
			r.rollbackOpen(hctx, "the flow crashed: panic: "+crash.value)
		}
		var out classify.Outcome
		switch {
		case crash != nil:
			st := r.state(hooks.Crashed, hooks.NameCrashed, attempt)
			st.Message, st.ErrorType, st.Details = "panic: "+crash.value, "PanicError", crash.stack
			out = classify.Outcome{State: st, Retryable: true}
			err = temporal.NewApplicationErrorWithOptions(st.Message, names.ErrTypePanic,
				temporal.ApplicationErrorOptions{Details: []any{crash.stack}})
		case r.cancelRequested && (err != nil || !r.plan.legacy):
			// Cancelled, whether the body gave up or finished anyway.
			return r.finishCancelled(hctx)
		case err == nil:
			return r.finish(hctx, r.state(hooks.Completed, hooks.NameCompleted, attempt), result, nil)
		case r.deadlineHit:
			return r.finishDeadline(hctx)
		case workflow.IsContinueAsNewError(err) && !r.plan.legacy:
			return r.continueAsNew(hctx, err)
		case timedOut:
			st := r.state(hooks.Failed, hooks.NameTimedOut, attempt)
			st.Message = fmt.Sprintf("flow attempt ran past its %s timeout", r.plan.Timeout)
			st.ErrorType = names.ErrTypeTimedOut
			out = classify.Outcome{State: st, Retryable: true}
			err = temporal.NewApplicationError(st.Message, names.ErrTypeTimedOut)
		default:
			out = classify.Attempt(err, workflow.Now(ctx), attempt)
			switch {
			case out.State.Type == hooks.Cancelled:
				// A cancellation the flow did not ask for (a cancelled task or subflow it did not
				// handle) fails the flow.
				out.State.Type, out.State.Name = hooks.Failed, hooks.NameFailed
			case out.State.Name == hooks.NameTimedOut && !r.plan.legacy:
				// A task or subflow that timed out fails the flow: TimedOut names only a run that
				// passed its own timeout.
				out.State.Name = hooks.NameFailed
			}
		}

		if out.Retryable && attempt <= r.plan.Retry.Retries {
			awaiting := out.State
			awaiting.Type, awaiting.Name = hooks.Scheduled, hooks.NameAwaitingRetry
			r.transition(hctx, awaiting)
			if wait := r.plan.Retry.wait(attempt, jitter(r.info.ID, r.info.RunID, "flow", attempt)); wait > 0 {
				if workflow.Sleep(bodyCtx, wait) != nil {
					if r.deadlineHit {
						return r.finishDeadline(hctx)
					}
					return r.finishCancelled(hctx)
				}
			}
			continue
		}
		return r.finish(hctx, out.State, nil, err)
	}
}

type crashInfo struct{ value, stack string }

// attempt runs the flow body once, under the flow's timeout, recovering a panic.
func (r *flowRun) attempt(bodyCtx workflow.Context, input *interceptor.ExecuteWorkflowInput) (result any, err error, crash *crashInfo, timedOut bool) {
	actx, cancelAttempt := workflow.WithCancel(bodyCtx)
	defer cancelAttempt() // the timeout timer and whatever the attempt left running
	if r.plan.Timeout > 0 {
		timer := workflow.NewTimer(actx, r.plan.Timeout)
		workflow.Go(actx, func(gctx workflow.Context) {
			if timer.Get(gctx, nil) == nil {
				timedOut = true
				cancelAttempt()
			}
		})
	}
	defer func() {
		if p := recover(); p != nil {
			crash = &crashInfo{value: fmt.Sprint(p), stack: stackWithoutGoroutineID()}
		}
	}()
	result, err = r.in.Next.ExecuteWorkflow(actx, input)
	return result, err, nil, timedOut
}

// stackWithoutGoroutineID returns the current stack without its first line, whose goroutine
// number differs from one replay to the next.
func stackWithoutGoroutineID() string {
	s := string(debug.Stack())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// watchCancel waits for Temporal to cancel the run, then moves it to Cancelling, runs the
// on_cancellation hooks and cancels the body (and so the tasks in flight). It runs in a workflow
// goroutine of its own: ctx must be that goroutine's.
func (r *flowRun) watchCancel(ctx workflow.Context, cancelBody workflow.CancelFunc) {
	ctx.Done().Receive(ctx, nil)
	if r.finishing {
		return
	}
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	r.cancelRequested = true
	st := r.state(hooks.Cancelling, hooks.NameCancelling, r.info.Attempt)
	r.transition(hctx, st)
	r.runHooks(hctx, hooks.OnCancellation, st)
	r.cancelHooksDone = true
	cancelBody()
}

// DefaultDeadlineGrace returns how long before a server-side timeout of the given length a flow
// run ends itself when its options set no DeadlineGrace: a tenth of the timeout, at least 5
// seconds (for the on_failure hooks to run: a first attempt as a local activity may take
// hooks.AutoLocalTimeout) but no more than half the timeout, and at most a minute.
func DefaultDeadlineGrace(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 5*time.Second), timeout/2, time.Minute)
}

// serverDeadline returns when the Temporal server would time the run out for good — its
// execution timeout, or its run timeout when the workflow's retry policy starts no other run after
// it — whichever comes first, and that timeout; zero when it has none or when the run cannot know
// it (a cron run, whose start the server delays; the execution timeout of a run the server
// retried, which counts from an earlier run).
func (r *flowRun) serverDeadline(wi *workflow.Info) (time.Time, time.Duration) {
	var deadline time.Time
	var timeout time.Duration
	retried := wi.RetryPolicy != nil && (wi.RetryPolicy.MaximumAttempts == 0 || wi.Attempt < wi.RetryPolicy.MaximumAttempts)
	if wi.WorkflowRunTimeout > 0 && !retried && wi.CronSchedule == "" {
		// The server counts a run timeout from the run's start plus the backoff it waited before
		// its first workflow task: for a retried run, its retry interval.
		start := wi.WorkflowStartTime.Add(retryInterval(wi.RetryPolicy, int(wi.Attempt)))
		deadline, timeout = start.Add(wi.WorkflowRunTimeout), wi.WorkflowRunTimeout
	}
	if wi.WorkflowExecutionTimeout > 0 && wi.Attempt <= 1 {
		start := wi.WorkflowStartTime
		if r.chain != nil && !r.chain.Started.IsZero() {
			start = r.chain.Started
		}
		if d := start.Add(wi.WorkflowExecutionTimeout); deadline.IsZero() || d.Before(deadline) {
			deadline, timeout = d, wi.WorkflowExecutionTimeout
		}
	}
	return deadline, timeout
}

// retryInterval is the wait the server's retry policy p puts before the given attempt of a run.
func retryInterval(p *temporal.RetryPolicy, attempt int) time.Duration {
	if p == nil || attempt < 2 {
		return 0
	}
	initial, coef, maxInterval := p.InitialInterval, p.BackoffCoefficient, p.MaximumInterval
	if initial <= 0 {
		initial = time.Second
	}
	if coef < 1 {
		coef = 2
	}
	if maxInterval <= 0 {
		maxInterval = 100 * initial
	}
	d := float64(initial) * math.Pow(coef, float64(attempt-2))
	return time.Duration(math.Min(d, float64(maxInterval)))
}

// watchDeadline ends the run a grace period before its server-side timeout, so that it ends
// TimedOut through its own code, with its on_failure hooks, instead of being killed by the server
// (after which only the crash sweeper could run its on_crashed hooks).
func (r *flowRun) watchDeadline(ctx, hctx workflow.Context, cancelDeadline workflow.CancelFunc) {
	if r.plan.legacy || r.plan.Grace < 0 {
		return
	}
	deadline, timeout := r.serverDeadline(workflow.GetInfo(ctx))
	if deadline.IsZero() {
		return
	}
	grace := r.plan.Grace
	if grace == 0 {
		grace = DefaultDeadlineGrace(timeout)
	}
	if !deadline.After(workflow.Now(ctx)) {
		return // too late: the server will time it out, and the crash sweeper handle it
	}
	wait := max(deadline.Add(-grace).Sub(workflow.Now(ctx)), time.Millisecond)
	workflow.Go(hctx, func(gctx workflow.Context) {
		if workflow.NewTimer(gctx, wait).Get(gctx, nil) != nil || r.finishing || r.cancelRequested {
			return
		}
		r.deadlineHit = true
		cancelDeadline()
	})
}

// finishDeadline ends a run that its server-side timeout was about to kill.
func (r *flowRun) finishDeadline(hctx workflow.Context) (any, error) {
	st := r.state(hooks.Failed, hooks.NameTimedOut, r.info.Attempt)
	wi := workflow.GetInfo(hctx)
	_, timeout := r.serverDeadline(wi)
	st.Message = fmt.Sprintf("ended itself before its %s server-side timeout", timeout)
	st.ErrorType = names.ErrTypeTimedOut
	return r.finish(hctx, st, nil, temporal.NewNonRetryableApplicationError(st.Message, names.ErrTypeTimedOut, nil))
}

// finishCancelled ends a cancelled run once its on_cancellation hooks have finished.
func (r *flowRun) finishCancelled(hctx workflow.Context) (any, error) {
	_ = workflow.Await(hctx, func() bool { return r.cancelHooksDone })
	return r.finish(hctx, r.state(hooks.Cancelled, hooks.NameCancelled, r.info.Attempt), nil, temporal.NewCanceledError())
}

// finish enters the terminal state st, runs its hooks, writes the state history to the memo and
// returns what the workflow returns.
func (r *flowRun) finish(hctx workflow.Context, st hooks.State, result any, err error) (any, error) {
	r.finishing = true
	r.transition(hctx, st)
	if e, ok := hooks.EventFor(st); ok && e != hooks.OnCancellation {
		r.runHooks(hctx, e, st)
	}
	if merr := workflow.UpsertMemo(hctx, r.rec.memoFields()); merr != nil {
		workflow.GetLogger(hctx).Error("flowstate: writing the state history memo failed", "error", merr)
	}
	return result, err
}

// continueAsNew lets the body's continue-as-new through: no failure, no retry, no hook. The next
// run of the chain takes the chain over from the memo it starts with (which carries the run's data
// too).
func (r *flowRun) continueAsNew(hctx workflow.Context, err error) (any, error) {
	r.finishing = true
	wi := workflow.GetInfo(hctx)
	c := chainState{
		FirstRunID: wi.FirstRunID,
		Previous:   r.info.RunID,
		Seq:        r.rec.seqBase + len(r.rec.history.Entries),
		Attempt:    r.info.Attempt,
		Started:    r.info.ExpectedStartTime,
		IDs:        r.in.ids,
		Runs:       1,
	}
	if r.chain != nil {
		c.Runs = r.chain.Runs + 1
	}
	workflow.GetLogger(hctx).Info("flowstate: the flow run continues as new", "run", r.info.ID, "entries", c.Seq)
	if merr := workflow.UpsertMemo(hctx, map[string]any{names.MemoChain: c}); merr != nil {
		workflow.GetLogger(hctx).Error("flowstate: handing the chain to the next run failed", "error", merr)
	}
	return nil, err
}

// state returns a new state of the run at the current workflow time.
func (r *flowRun) state(t hooks.StateType, name string, attempt int) hooks.State {
	st := hooks.NewState(t, workflow.Now(r.ctx))
	st.Name, st.Attempt = name, attempt
	return st
}

// transition records a flow state and keeps the FlowState search attribute current.
func (r *flowRun) transition(ctx workflow.Context, st hooks.State) {
	r.rec.flowEntry(ctx, r.info.ID, r.flow.Name, st)
	r.rec.upsertState(ctx, st)
}

// runHooks calls the flow's hooks for event e, as its plan lists them, one after another,
// recording each outcome.
func (r *flowRun) runHooks(ctx workflow.Context, e hooks.Event, st hooks.State) {
	list := r.plan.Hooks[e]
	if len(list) == 0 {
		return
	}
	info := r.Info()
	for i, spec := range list {
		inv := hooks.Invocation{
			Hook: spec.Name, Event: e, Args: spec.Args, State: st,
			Key:  hookKey(info.ID, info.RunID, "flow", e, st.Attempt, i),
			Flow: &r.flow, FlowRun: &info,
		}
		err := r.in.root.callHook(ctx, spec, inv, info.TaskQueue)
		r.rec.hookEntry(ctx, hooks.KindFlow, info.ID, r.flow.Name, inv, err)
	}
}

// hookKey is the idempotency key of one hook call: the same for every attempt of the call, and
// different for every other call.
func hookKey(workflowID, runID, subject string, e hooks.Event, attempt, index int) string {
	return fmt.Sprintf("%s/%s/%s/%s/%d/%d", workflowID, runID, subject, e, attempt, index)
}

// jitter returns a number in [0, 1) that is the same on every replay of one retry and differs
// from one retry to the next.
func jitter(workflowID, runID, subject string, attempt int) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%s/%d", workflowID, runID, subject, attempt)
	return float64(h.Sum64()>>11) / float64(1<<53)
}
