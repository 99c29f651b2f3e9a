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

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// Options configure the activity-side interceptor.
type Options struct {
	// Tasks are the activity types run as flowstate tasks, by name, with their options: the
	// worker's adapter tasks and the plain activities it attaches hooks to. Other activities pass
	// through untouched, except the hook runner.
	Tasks map[string]adapter.TaskOptions
}

// Interceptor is the activity-side flowstate interceptor. For task activities and hook calls it
//   - heartbeats while the activity runs, so that a worker that dies is noticed within the
//     heartbeat timeout and the attempt ends Crashed; task code needs no heartbeat calls;
//   - turns a panic into a Crashed attempt, with the panic's message and stack, and so an attempt
//     its worker stopped in the middle of (a graceful stop, a deploy);
//   - evaluates the task's retry condition, making the error non-retryable when it says no;
//   - sets the next retry's delay for delays Temporal's retry policy cannot express (lists,
//     jitter);
//   - gives task code its task run (adapter.TaskRunInfo).
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	opts Options
}

var _ interceptor.WorkerInterceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor with the given options.
func NewInterceptor(opts Options) *Interceptor { return &Interceptor{opts: opts} }

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
	opts, isTask := in.root.opts.Tasks[typ]
	if !isTask && typ != names.HookActivity {
		return in.Next.ExecuteActivity(ctx, input)
	}
	attempt, workflowDriven := int(info.Attempt), false
	if p, ok := interceptor.Header(ctx)[names.HeaderAttempt]; ok {
		var a int
		if err := converter.GetDefaultDataConverter().FromPayload(p, &a); err == nil && a > 0 {
			attempt, workflowDriven = a, true
		}
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
		return nil, temporal.NewApplicationErrorWithOptions("panic: "+crash.value, names.ErrTypePanic,
			temporal.ApplicationErrorOptions{Details: []any{crash.stack}})
	}
	if err != nil && errors.Is(context.Cause(ctx), sdkworker.ErrWorkerShutdown) {
		// The worker stopped (SIGTERM, a deploy) while the task or hook ran: the attempt did not
		// end through its code. It is Crashed, as a killed worker makes it, and retried likewise.
		return nil, temporal.NewApplicationErrorWithOptions("worker stopped while the attempt ran: "+message(err),
			names.ErrTypeCrashed, temporal.ApplicationErrorOptions{Cause: err})
	}
	if err == nil || !isTask {
		return result, err
	}
	return nil, decideRetry(ctx, opts, attempt, workflowDriven, err)
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

// decideRetry returns the error a failed task attempt reports to Temporal: unchanged, made
// non-retryable by the task's retry condition, or carrying the delay before the next retry.
func decideRetry(ctx context.Context, opts adapter.TaskOptions, attempt int, workflowDriven bool, err error) error {
	if attempt > opts.Retries || isNonRetryable(err) {
		return err
	}
	if cond := opts.RetryCondition; cond != nil {
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
	if !workflowDriven && needsExplicitDelay(opts) {
		return rebuild(err, false, opts.RetryWait(attempt, rand.Float64()))
	}
	return err
}

func safeCondition(ctx context.Context, cond func(context.Context, hooks.State, error) (bool, error), st hooks.State, err error) (retry bool, cerr error) {
	defer func() {
		if p := recover(); p != nil {
			cerr = fmt.Errorf("retry condition panicked: %v", p)
		}
	}()
	return cond(ctx, st, err)
}

// needsExplicitDelay reports whether the retry delays differ from what the task's Temporal retry
// policy (adapter.RetryPolicy) gives by itself.
func needsExplicitDelay(o adapter.TaskOptions) bool {
	if o.RetryJitterFactor > 0 {
		return true
	}
	l, ok := o.RetryDelay.(adapter.DelayList)
	return ok && len(l) > 1
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

// outbound remembers the details the activity heartbeats itself, so that flowstate's own
// heartbeats repeat them instead of erasing them.
type outbound struct {
	interceptor.ActivityOutboundInterceptorBase
	mu      sync.Mutex
	details []any
}

func (o *outbound) RecordHeartbeat(ctx context.Context, details ...any) {
	o.mu.Lock()
	o.details = details
	o.mu.Unlock()
	o.Next.RecordHeartbeat(ctx, details...)
}

// heartbeat sends heartbeats every third of timeout until the returned function is called. The
// SDK batches them to at most one RPC per 80% of the timeout. Heartbeats also deliver
// cancellation: a cancelled flow's tasks see their context cancelled.
func (o *outbound) heartbeat(ctx context.Context, timeout time.Duration) (stop func()) {
	if timeout <= 0 {
		return func() {}
	}
	if o.Next.HasHeartbeatDetails(ctx) {
		var last converter.RawValue
		if err := o.Next.GetHeartbeatDetails(ctx, &last); err == nil {
			o.details = []any{last}
		}
	}
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
			case <-ctx.Done():
				return
			case <-tick.C:
				o.mu.Lock()
				details := o.details
				o.mu.Unlock()
				o.Next.RecordHeartbeat(ctx, details...)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
