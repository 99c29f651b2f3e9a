package activities

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
	"github.com/flowstate/flowstate/internal/taskrun"
)

// Options configure the activity-side interceptor.
type Options struct {
	// Tasks are the activity types run as flowstate tasks, by name, with their options: the
	// worker's adapter tasks and the plain activities it attaches hooks to. Other activities pass
	// through untouched, except the hook runner and calls whose workflow sent a task spec.
	Tasks map[string]adapter.TaskOptions
	// DataConverter converts task results to payloads when flowstate attaches their attempts to
	// them, before the client's payload codecs (which the SDK applies). Set it when the client's
	// DataConverter does not build on the SDK's default payload conversion.
	// default: converter.GetDefaultDataConverter()
	DataConverter converter.DataConverter
}

// Interceptor is the activity-side flowstate interceptor. For task activities and hook calls it
//   - heartbeats while the activity runs, so that a worker that dies is noticed within the
//     heartbeat timeout and the attempt ends Crashed; task code needs no heartbeat calls. It goes
//     on heartbeating after the activity is cancelled, until its function returns: a task that
//     ignores its cancelled context is alive, not lost;
//   - turns a panic into a Crashed attempt, with the panic's message and stack, and so an attempt
//     its worker stopped in the middle of (a graceful stop, a deploy);
//   - decides retries as the call's spec says (it travels in the activity's header): the task's
//     retry condition, making the error non-retryable when it says no, and the next retry's delay
//     for delays Temporal's retry policy cannot express (lists, jitter);
//   - keeps the log of the attempts the Temporal server runs, in the heartbeat details from one
//     attempt to the next, and returns it with the call's outcome, so that the flow's state
//     history shows every attempt;
//   - gives task code its task run (adapter.TaskRunInfo).
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	opts Options
}

var _ interceptor.WorkerInterceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor with the given options.
func NewInterceptor(opts Options) *Interceptor {
	if opts.DataConverter == nil {
		opts.DataConverter = converter.GetDefaultDataConverter()
	}
	return &Interceptor{opts: opts}
}

// InterceptActivity implements interceptor.WorkerInterceptor.
func (i *Interceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	in := &inbound{root: i}
	in.Next = next
	return in
}

// inbound intercepts one activity execution.
type inbound struct {
	interceptor.ActivityInboundInterceptorBase
	root *Interceptor
	out  *outbound
}

func (in *inbound) Init(next interceptor.ActivityOutboundInterceptor) error {
	in.out = &outbound{}
	in.out.Next = next
	return in.Next.Init(in.out)
}

func (in *inbound) ExecuteActivity(ctx context.Context, input *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	typ := info.ActivityType.Name
	opts, registered := in.root.opts.Tasks[typ]
	header := interceptor.Header(ctx)
	spec, hasSpec := readSpec(header)
	isTask := registered || hasSpec
	if !isTask && typ != names.HookActivity {
		return in.Next.ExecuteActivity(ctx, input)
	}
	if !hasSpec {
		// A call scheduled by flowstate v0.1: the worker's options decide.
		spec = taskrun.Spec{Retries: opts.Retries, Delay: taskrun.EncodeDelay(opts.RetryDelay), Jitter: opts.RetryJitterFactor, Condition: taskrun.Registered}
	}
	attempt, workflowScheduled := int(info.Attempt), spec.Workflow
	if p, ok := header[names.HeaderAttempt]; ok {
		var a int
		if err := converter.GetDefaultDataConverter().FromPayload(p, &a); err == nil && a > 0 {
			attempt, workflowScheduled = a, true
		}
	}
	serverRetried := isTask && !workflowScheduled && !info.IsLocalActivity
	if serverRetried {
		in.out.startLog(ctx, taskrun.Attempt{N: attempt, Started: info.StartedTime})
	}
	if isTask {
		ctx = flowctx.WithTaskRun(ctx, hooks.TaskRun{
			ID: info.ActivityID, TaskName: typ, Tags: opts.Tags, Attempt: attempt,
			FlowRunID: info.WorkflowExecution.ID, FlowRunRunID: info.WorkflowExecution.RunID,
			FlowName: info.WorkflowType.Name, Namespace: info.WorkflowNamespace,
		})
	}

	stop := in.out.heartbeat(ctx, info.HeartbeatTimeout)
	result, err, crash := in.call(ctx, input)
	stop()

	if crash != nil {
		err = temporal.NewApplicationErrorWithOptions("panic: "+crash.value, names.ErrTypePanic,
			temporal.ApplicationErrorOptions{Details: []any{crash.stack}})
	} else if err != nil && errors.Is(context.Cause(ctx), sdkworker.ErrWorkerShutdown) {
		// The worker stopped (SIGTERM, a deploy) while the task or hook ran: the attempt did not
		// end through its code. It is Crashed, as a killed worker makes it, and retried likewise.
		err = temporal.NewApplicationErrorWithOptions("worker stopped while the attempt ran: "+message(err),
			names.ErrTypeCrashed, temporal.ApplicationErrorOptions{Cause: err})
	}
	if !isTask {
		return result, err
	}
	if err == nil {
		if serverRetried {
			return in.withLog(ctx, result), nil
		}
		return result, nil
	}
	if errors.Is(err, activity.ErrResultPending) || isCanceled(ctx, err) {
		return nil, err
	}
	err = decideRetry(ctx, opts, spec, attempt, workflowScheduled, err)
	if serverRetried {
		err = in.out.endLog(ctx, err)
	}
	return nil, err
}

// readSpec reads the task spec a flowstate workflow put in the activity's header.
func readSpec(header map[string]*commonpb.Payload) (taskrun.Spec, bool) {
	p, ok := header[taskrun.Header]
	if !ok {
		return taskrun.Spec{}, false
	}
	s, err := taskrun.DecodeSpec(p)
	return s, err == nil
}

func isCanceled(ctx context.Context, err error) bool {
	var canceled *temporal.CanceledError
	return errors.As(err, &canceled) || (ctx.Err() != nil && errors.Is(err, context.Canceled))
}

type crashInfo struct{ value, stack string }

func (in *inbound) call(ctx context.Context, input *interceptor.ExecuteActivityInput) (result any, err error, crash *crashInfo) {
	defer func() {
		if p := recover(); p != nil {
			crash = &crashInfo{value: fmt.Sprint(p), stack: string(debug.Stack())}
		}
	}()
	result, err = in.Next.ExecuteActivity(ctx, input)
	return result, err, nil
}

// withLog returns the result of the attempt that succeeded, carrying the log of the attempts in
// its payload's metadata. A result the converter cannot encode goes as it is.
func (in *inbound) withLog(ctx context.Context, result any) any {
	log := in.out.log()
	p, err := in.root.opts.DataConverter.ToPayload(result)
	if err != nil || p == nil {
		return result
	}
	return converter.NewRawValue(taskrun.Attach(p, log))
}

// decideRetry returns the error a failed task attempt reports to Temporal: unchanged, made
// non-retryable by the task's retry condition, or carrying the delay before the next retry.
func decideRetry(ctx context.Context, opts adapter.TaskOptions, spec taskrun.Spec, attempt int, workflowScheduled bool, err error) error {
	if attempt > spec.Retries || isNonRetryable(err) {
		return err
	}
	if cond := retryCondition(ctx, opts, spec); cond != nil {
		st := hooks.NewState(hooks.Failed, time.Now())
		st.Attempt, st.Message, st.ErrorType = attempt, message(err), errType(err)
		retry, cerr := safeCondition(ctx, cond, st, err)
		if cerr != nil {
			activity.GetLogger(ctx).Warn("flowstate: the task's retry condition failed; not retrying", "error", cerr)
			return rebuild(err, true, 0)
		}
		if !retry {
			return rebuild(err, true, 0)
		}
	}
	if !workflowScheduled && spec.NeedsExplicitDelay() {
		return rebuild(err, false, spec.Wait(attempt, rand.Float64()))
	}
	return err
}

// retryCondition returns the retry condition the call's spec names.
func retryCondition(ctx context.Context, opts adapter.TaskOptions, spec taskrun.Spec) flowctx.RetryCondition {
	switch spec.Condition {
	case "":
		return nil
	case taskrun.Registered:
		return opts.RetryCondition
	}
	if cond, ok := flowctx.Condition(spec.Condition); ok {
		return cond
	}
	activity.GetLogger(ctx).Warn("flowstate: the task call's retry condition is not known to this worker; asking the task's own",
		"condition", spec.Condition)
	return opts.RetryCondition
}

func safeCondition(ctx context.Context, cond flowctx.RetryCondition, st hooks.State, err error) (retry bool, cerr error) {
	defer func() {
		if p := recover(); p != nil {
			cerr = fmt.Errorf("retry condition panicked: %v", p)
		}
	}()
	return cond(ctx, st, err)
}

// rebuild returns err as a Temporal application error with the same message and type, made
// non-retryable, or with an explicit delay before the next retry.
func rebuild(err error, nonRetryable bool, next time.Duration) error {
	if next <= 0 && !nonRetryable {
		next = time.Millisecond // retry at once: zero would mean "use the retry policy"
	}
	o := temporal.ApplicationErrorOptions{NonRetryable: nonRetryable, NextRetryDelay: next}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		o.Cause = errors.Unwrap(app)
		o.Category = app.Category()
		return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), o)
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), errType(err), o)
}

func isNonRetryable(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

func message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// errType names an error's type as the Temporal SDK does for a plain Go error.
func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// outbound keeps the heartbeat details of one activity execution: the attempt log flowstate
// keeps first, then the details the activity heartbeats itself, which flowstate's own heartbeats
// repeat instead of erasing, and which the activity reads back without flowstate's.
type outbound struct {
	interceptor.ActivityOutboundInterceptorBase
	mu       sync.Mutex
	details  []any
	attempts taskrun.Log
	logged   bool
}

// maxUserDetails bounds the heartbeat details of the activity's own that flowstate carries over
// from the previous attempt.
const maxUserDetails = 8

// previous returns what the previous attempt heartbeated: flowstate's attempt log, if any, and
// the activity's own details.
func (o *outbound) previous(ctx context.Context) (taskrun.Log, []converter.RawValue) {
	if !o.Next.HasHeartbeatDetails(ctx) {
		return nil, nil
	}
	raws := make([]converter.RawValue, maxUserDetails+1)
	ptrs := make([]any, len(raws))
	for i := range raws {
		ptrs[i] = &raws[i]
	}
	_ = o.Next.GetHeartbeatDetails(ctx, ptrs...)
	log, ours, _ := taskrun.FromPayload(raws[0].Payload())
	if ours {
		raws = raws[1:]
	}
	var user []converter.RawValue
	for _, r := range raws {
		if r.Payload() != nil {
			user = append(user, r)
		}
	}
	return log, user
}

// startLog starts the attempt log of a task whose attempts the server schedules, from what the
// previous attempts left, with this attempt.
func (o *outbound) startLog(ctx context.Context, a taskrun.Attempt) {
	log, user := o.previous(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logged = true
	o.attempts = append(log, a)
	if len(user) > 0 {
		o.details = make([]any, len(user))
		for i, u := range user {
			o.details[i] = u
		}
	}
}

func (o *outbound) log() taskrun.Log {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append(taskrun.Log(nil), o.attempts...)
}

// endLog records the attempt's error in the log, heartbeats it for the next attempt (the SDK
// flushes that heartbeat with the failure), and returns err carrying the log in its details when
// it has none of its own, for the workflow to read if this attempt was the last.
func (o *outbound) endLog(ctx context.Context, err error) error {
	o.mu.Lock()
	if n := len(o.attempts); n > 0 {
		o.attempts[n-1].Ended = time.Now()
		o.attempts[n-1].Error = message(err)
		o.attempts[n-1].ErrorType = errType(err)
	}
	o.mu.Unlock()
	o.Next.RecordHeartbeat(context.WithoutCancel(ctx), o.beat()...)
	log := o.log()
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		return err // the error's details are the task's own
	}
	o2 := temporal.ApplicationErrorOptions{NonRetryable: isNonRetryable(err), Details: []any{log.Payload()}}
	if errors.As(err, &app) {
		o2.Cause = errors.Unwrap(app)
		o2.Category = app.Category()
		o2.NextRetryDelay = app.NextRetryDelay()
		return temporal.NewApplicationErrorWithOptions(app.Message(), app.Type(), o2)
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), errType(err), o2)
}

// beat returns the heartbeat details to send: the attempt log first, when there is one.
func (o *outbound) beat() []any {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.logged {
		return o.details
	}
	return append([]any{o.attempts.Payload()}, o.details...)
}

func (o *outbound) RecordHeartbeat(ctx context.Context, details ...any) {
	o.mu.Lock()
	o.details = details
	o.mu.Unlock()
	o.Next.RecordHeartbeat(ctx, o.beat()...)
}

func (o *outbound) HasHeartbeatDetails(ctx context.Context) bool {
	_, user := o.previous(ctx)
	return len(user) > 0
}

func (o *outbound) GetHeartbeatDetails(ctx context.Context, d ...any) error {
	if !o.Next.HasHeartbeatDetails(ctx) {
		return o.Next.GetHeartbeatDetails(ctx, d...)
	}
	var first converter.RawValue
	_ = o.Next.GetHeartbeatDetails(ctx, &first)
	if _, ours, _ := taskrun.FromPayload(first.Payload()); !ours {
		return o.Next.GetHeartbeatDetails(ctx, d...)
	}
	_, user := o.previous(ctx)
	if len(user) == 0 {
		return temporal.ErrNoData
	}
	return o.Next.GetHeartbeatDetails(ctx, append([]any{&first}, d...)...)
}

// heartbeat sends heartbeats every third of timeout until the returned function is called, also
// after the activity's context is cancelled: the activity is alive until its function returns.
// The SDK batches them to at most one RPC per 80% of the timeout. Heartbeats also deliver
// cancellation: a cancelled flow's tasks see their context cancelled.
func (o *outbound) heartbeat(ctx context.Context, timeout time.Duration) (stop func()) {
	if timeout <= 0 {
		return func() {}
	}
	beatCtx := context.WithoutCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(max(timeout/3, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				o.Next.RecordHeartbeat(beatCtx, o.beat()...)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
