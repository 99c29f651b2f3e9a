package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"strings"
	"text/template"
	"time"

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
// attempts, its task runs' transitions and its hook calls.
type flowRun struct {
	in   *inbound
	ctx  workflow.Context // the workflow's root context, for reading workflow time
	opts adapter.FlowOptions
	flow hooks.FlowInfo
	info hooks.FlowRun
	rec  recorder

	// cancelRequested is set when Temporal asks the run to cancel; cancelHooksDone once the
	// on_cancellation hooks have finished.
	cancelRequested bool
	cancelHooksDone bool
	// finishing is set once the run entered its terminal state: a late cancellation is ignored.
	finishing bool
	// dataDirty is set when data was attached and not yet written to the memo.
	dataDirty bool
}

var _ flowctx.Run = (*flowRun)(nil)

func newFlowRun(ctx workflow.Context, in *inbound, input *interceptor.ExecuteWorkflowInput) *flowRun {
	wi := workflow.GetInfo(ctx)
	opts := in.spec.Options
	r := &flowRun{
		in:   in,
		ctx:  ctx,
		opts: opts,
		flow: hooks.FlowInfo{Name: wi.WorkflowType.Name, Tags: opts.Tags, Retries: opts.Retries},
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
	r.rec = recorder{
		history: hooks.History{Flow: r.flow.Name, WorkflowID: r.info.ID, RunID: r.info.RunID},
		sa:      in.root.opts.SearchAttributes || workflow.GetTypedSearchAttributes(ctx).ContainsKey(stateKey),
	}
	r.rec.startedAs, _ = workflow.GetTypedSearchAttributes(ctx).GetKeyword(stateKey)
	return r
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

// Info implements flowctx.Run.
func (r *flowRun) Info() hooks.FlowRun {
	info := r.info
	info.Data = r.rec.dataCopy()
	return info
}

// NextID implements flowctx.Run.
func (r *flowRun) NextID(name string) string { return r.in.nextID(name) }

// SetData implements flowctx.Run: it records the data, and publishData keeps it in the run's memo
// so that it outlives a terminated workflow.
func (r *flowRun) SetData(_ workflow.Context, key string, value json.RawMessage) error {
	r.rec.setData(key, value)
	r.dataDirty = true
	return nil
}

// publishData writes the run's data to its memo whenever it changed. It runs in a workflow
// goroutine of its own because signal handlers, where tasks' data arrives, cannot issue commands;
// it publishes within the workflow task that changed the data.
func (r *flowRun) publishData(ctx workflow.Context) {
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	for {
		if err := workflow.Await(hctx, func() bool { return r.dataDirty }); err != nil {
			return
		}
		r.dataDirty = false
		if err := workflow.UpsertMemo(hctx, map[string]any{names.MemoData: r.rec.dataCopy()}); err != nil {
			workflow.GetLogger(hctx).Error("flowstate: writing the run's data to its memo failed", "error", err)
		}
	}
}

func (r *flowRun) handleDataSignal(ctx workflow.Context, input *interceptor.HandleSignalInput) error {
	var sig adapter.RunDataSignal
	if err := dataConverter.FromPayloads(input.Arg, &sig); err != nil {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring a malformed run data signal", "error", err)
		return nil
	}
	if sig.Key == "" || len(sig.Value) > adapter.MaxRunDataSize {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring run data without a key or over the size limit", "key", sig.Key)
		return nil
	}
	return r.SetData(ctx, sig.Key, sig.Value)
}

// execute runs the flow: input check, attempts with on_running hooks, retries with durable
// waits, cancellation, and the terminal state with its hooks.
func (r *flowRun) execute(ctx workflow.Context, input *interceptor.ExecuteWorkflowInput) (any, error) {
	if err := workflow.SetQueryHandler(ctx, names.Query, func() (hooks.History, error) {
		return r.rec.snapshot(), nil
	}); err != nil {
		return nil, err
	}
	ctx = flowctx.WithRun(ctx, r)
	workflow.Go(ctx, r.publishData)
	// Hooks and bookkeeping run on a context that survives cancellation of the workflow.
	hctx, _ := workflow.NewDisconnectedContext(ctx)

	scheduled := hooks.NewState(hooks.Scheduled, r.info.ExpectedStartTime)
	r.rec.flowEntry(ctx, r.info.ID, r.flow.Name, scheduled)

	if v := r.in.spec.ValidateInput; v != nil {
		if err := v(r.info.Parameters); err != nil {
			st := r.state(hooks.Failed, hooks.NameFailed, 1)
			st.Message, st.ErrorType = err.Error(), names.ErrTypeInvalidInput
			return r.finish(hctx, st, nil, temporal.NewNonRetryableApplicationError(err.Error(), names.ErrTypeInvalidInput, err))
		}
	}

	// The body runs on a context of its own, cancelled by watchCancel once the on_cancellation
	// hooks ran, so that the tasks in flight are cancelled after the hooks, not before.
	bodyCtx, cancelBody := workflow.WithCancel(hctx)
	workflow.Go(ctx, func(gctx workflow.Context) { r.watchCancel(gctx, cancelBody) })

	for attempt := 1; ; attempt++ {
		r.info.Attempt = attempt
		running := r.state(hooks.Running, hooks.NameRunning, attempt)
		if attempt > 1 {
			running.Name = hooks.NameRetrying
		}
		r.transition(hctx, running)
		r.runHooks(hctx, hooks.OnRunning, running)
		if r.cancelRequested {
			return r.finishCancelled(hctx)
		}

		result, err, crash, timedOut := r.attempt(bodyCtx, input)

		var out classify.Outcome
		switch {
		case crash != nil:
			st := r.state(hooks.Crashed, hooks.NameCrashed, attempt)
			st.Message, st.ErrorType, st.Details = "panic: "+crash.value, "PanicError", crash.stack
			out = classify.Outcome{State: st, Retryable: true}
			err = temporal.NewApplicationErrorWithOptions(st.Message, names.ErrTypePanic,
				temporal.ApplicationErrorOptions{Details: []any{crash.stack}})
		case err == nil:
			return r.finish(hctx, r.state(hooks.Completed, hooks.NameCompleted, attempt), result, nil)
		case r.cancelRequested:
			return r.finishCancelled(hctx)
		case timedOut:
			st := r.state(hooks.Failed, hooks.NameTimedOut, attempt)
			st.Message = fmt.Sprintf("flow attempt ran past its %s timeout", r.opts.Timeout)
			st.ErrorType = names.ErrTypeTimedOut
			out = classify.Outcome{State: st, Retryable: true}
			err = temporal.NewApplicationError(st.Message, names.ErrTypeTimedOut)
		default:
			out = classify.Attempt(err, workflow.Now(ctx), attempt)
			if out.State.Type == hooks.Cancelled {
				// A cancellation the flow did not ask for (a cancelled task or subflow it did not
				// handle) fails the flow.
				out.State.Type, out.State.Name = hooks.Failed, hooks.NameFailed
			}
		}

		if out.Retryable && attempt <= r.opts.Retries {
			awaiting := out.State
			awaiting.Type, awaiting.Name = hooks.Scheduled, hooks.NameAwaitingRetry
			r.transition(hctx, awaiting)
			if wait := r.opts.RetryWait(attempt, jitter(r.info.ID, r.info.RunID, "flow", attempt)); wait > 0 {
				if workflow.Sleep(bodyCtx, wait) != nil {
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
	if r.opts.Timeout > 0 {
		timer := workflow.NewTimer(actx, r.opts.Timeout)
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
	if merr := workflow.UpsertMemo(hctx, map[string]any{names.MemoHistory: r.rec.memo()}); merr != nil {
		workflow.GetLogger(hctx).Error("flowstate: writing the state history memo failed", "error", merr)
	}
	return result, err
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

// runHooks calls the flow's hooks for event e one after another, recording each outcome.
func (r *flowRun) runHooks(ctx workflow.Context, e hooks.Event, st hooks.State) {
	list := r.opts.Hooks(e)
	if len(list) == 0 {
		return
	}
	info := r.Info()
	for i, h := range list {
		inv := hooks.Invocation{
			Hook: h.Name(), Event: e, Args: h.Args(), State: st,
			Key:  hookKey(info.ID, info.RunID, "flow", e, st.Attempt, i),
			Flow: &r.flow, FlowRun: &info,
		}
		err := r.in.root.callHook(ctx, h.Err(), h.Options(), inv, info.TaskQueue)
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
