package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Event names the state change a hook is attached to.
type Event string

// The five state change hooks.
const (
	OnRunning      Event = "on_running"      // the run entered RUNNING (each attempt), before the body runs
	OnCompletion   Event = "on_completion"   // the run entered COMPLETED
	OnFailure      Event = "on_failure"      // the run entered FAILED, after its last retry
	OnCancellation Event = "on_cancellation" // the run entered CANCELLING
	OnCrashed      Event = "on_crashed"      // the run entered CRASHED
)

// The transaction lifecycle hooks of tasks (adapter.Transaction): not state change hooks, they run
// when the transaction a task completed in ends.
const (
	OnCommit   Event = "on_commit"   // the task's transaction committed
	OnRollback Event = "on_rollback" // the task's transaction rolled back: undo what the task did
)

// Events lists the state change events in a fixed order.
var Events = []Event{OnRunning, OnCompletion, OnFailure, OnCancellation, OnCrashed}

// TaskEvents lists every event a task hook can be attached to: the state change events, then the
// transaction events.
var TaskEvents = []Event{OnRunning, OnCompletion, OnFailure, OnCancellation, OnCrashed, OnCommit, OnRollback}

// EventFor returns the event that fires when a run enters s. AwaitingRetry and the other
// SCHEDULED and PENDING states fire none.
func EventFor(s State) (Event, bool) {
	switch s.Type {
	case Running:
		return OnRunning, true
	case Completed:
		return OnCompletion, true
	case Failed:
		return OnFailure, true
	case Cancelling:
		return OnCancellation, true
	case Crashed:
		return OnCrashed, true
	}
	return "", false
}

// CallInfo describes the hook call itself.
type CallInfo struct {
	// Name is the hook's registered name.
	Name string `json:"name"`
	// Event is the event that fired.
	Event Event `json:"event"`
	// IdempotencyKey is the same for every attempt of one hook call and different for every
	// other call. A hook with an external effect passes it on (as an Idempotency-Key header, a
	// database key, a file name) so that a call retried after its worker died has its effect once.
	IdempotencyKey string `json:"idempotency_key"`
	// Attempt is the attempt of this hook call, starting at 1.
	Attempt int `json:"attempt"`
}

// FlowCall is what a flow hook receives: Prefect's (flow, flow_run, state).
type FlowCall struct {
	Flow  FlowInfo
	Run   FlowRun
	State State
	Hook  CallInfo
}

// TaskCall is what a task hook receives: Prefect's (task, task_run, state), and, for the
// transaction hooks on_commit and on_rollback, the transaction.
type TaskCall struct {
	Task  TaskInfo
	Run   TaskRun
	State State
	Hook  CallInfo
	// Tx is the transaction the task run completed in, for on_commit and on_rollback hooks.
	Tx *Transaction
}

// Options configure the activity a hook call runs as. The zero value means the defaults.
type Options struct {
	// RetryPolicy retries a failing hook call.
	// default: DefaultRetryPolicy
	RetryPolicy *temporal.RetryPolicy
	// StartToCloseTimeout bounds one attempt of the hook.
	// default: 1 minute
	StartToCloseTimeout time.Duration
	// HeartbeatTimeout is how soon a hook call whose worker died is retried elsewhere. flowstate
	// heartbeats for the hook; the hook needs no heartbeat code.
	// default: 10 seconds
	HeartbeatTimeout time.Duration
	// TaskQueue is the task queue the hook runs on.
	// default: the task queue of the run's workflow
	TaskQueue string
	// Mode says how the hook's calls run: as a local activity that moves to an activity when it
	// fails (ModeAuto), as an activity (ModeActivity) or as a local activity (ModeLocal).
	// default: the worker's HookDefaults.Mode, else ModeAuto
	Mode Mode
}

// Mode is how a hook call runs. Every mode is durable: a call whose worker dies is run again,
// with the same idempotency key, and the run waits for it. The modes differ in what a call costs
// in history, where it runs and how soon a dead worker's call runs again; the package
// documentation compares them, and BENCHMARKS.md measures them. A hook on another task queue
// than the run's always runs as an activity.
type Mode int

const (
	// ModeDefault leaves the choice to the worker's defaults (ModeAuto unless they say otherwise).
	ModeDefault Mode = iota
	// ModeActivity runs every attempt as an activity: any worker of the task queue may run it, it
	// is visible in the Web UI as an activity, a long hook holds nothing, and a dead worker's call
	// is retried after the heartbeat timeout. It costs three history events, plus the workflow
	// task that resumes the run after it: six events a call in a flow that waits for it.
	ModeActivity
	// ModeLocal runs every attempt as a local activity, retried by its own policy: in the worker
	// running the flow, within the workflow task that entered the state, recorded as one
	// MarkerRecorded event, its retries included. A worker that dies mid-hook fails its workflow
	// task, and the worker that takes the run over runs the call again from its first attempt
	// (with the same idempotency key). A hook that runs or retries for longer than the workflow
	// task timeout (10 s by default) holds the run's workflow task meanwhile; keep long hooks in
	// ModeActivity or ModeAuto.
	ModeLocal
	// ModeAuto runs a call's first attempt as a local activity bounded by AutoLocalTimeout (or
	// StartToCloseTimeout when shorter), and when that attempt fails retryably, times out or finds
	// the hook missing on the worker, waits as a retry would and moves the call to an activity
	// with the rest of its retry policy; the activity's attempts continue the numbering (its first
	// is attempt 2). A hook that succeeds at once costs what a ModeLocal hook costs: one event, no
	// workflow task of its own. A failing or slow hook costs its marker, a timer and the
	// activity's events; a slow one is started twice, its local attempt abandoned at the timeout
	// (its idempotency key lets it make its effect once). A worker that dies mid local attempt
	// fails its workflow task; the local attempt runs again on the worker that takes the run over,
	// after the workflow task timeout. The default.
	ModeAuto
)

// AutoLocalTimeout bounds the local first attempt of a ModeAuto hook call.
const AutoLocalTimeout = 5 * time.Second

// String names the mode.
func (m Mode) String() string {
	switch m {
	case ModeDefault:
		return "default"
	case ModeActivity:
		return "activity"
	case ModeLocal:
		return "local"
	case ModeAuto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultRetryPolicy is the retry policy of a hook that sets none: ten attempts over about four
// minutes, then the hook gives up and the failure is recorded in the run's history.
var DefaultRetryPolicy = temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
	MaximumAttempts:    10,
}

// Defaults for Options fields left zero.
const (
	DefaultStartToCloseTimeout = time.Minute
	DefaultHeartbeatTimeout    = 10 * time.Second
)

// WithDefaults returns o with its zero fields set from d, then from the package defaults.
func (o Options) WithDefaults(d Options) Options {
	if o.RetryPolicy == nil {
		o.RetryPolicy = d.RetryPolicy
	}
	if o.RetryPolicy == nil {
		p := DefaultRetryPolicy
		o.RetryPolicy = &p
	}
	if o.StartToCloseTimeout == 0 {
		o.StartToCloseTimeout = d.StartToCloseTimeout
	}
	if o.StartToCloseTimeout == 0 {
		o.StartToCloseTimeout = DefaultStartToCloseTimeout
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.TaskQueue == "" {
		o.TaskQueue = d.TaskQueue
	}
	if o.Mode == ModeDefault {
		o.Mode = d.Mode
	}
	if o.Mode == ModeDefault {
		o.Mode = ModeAuto
	}
	return o
}

func (o Options) validate() error {
	if o.StartToCloseTimeout < 0 || o.HeartbeatTimeout < 0 {
		return fmt.Errorf("timeouts must not be negative")
	}
	if o.Mode < ModeDefault || o.Mode > ModeAuto {
		return fmt.Errorf("unknown mode %d", o.Mode)
	}
	if p := o.RetryPolicy; p != nil {
		if p.MaximumAttempts < 0 || p.InitialInterval < 0 || p.MaximumInterval < 0 || p.BackoffCoefficient < 0 {
			return fmt.Errorf("retry policy values must not be negative")
		}
	}
	return nil
}

// Definition is a hook as the registry knows it: a name and a function. FlowHook, TaskHook,
// FlowHookWithArgs and TaskHookWithArgs are definitions.
type Definition interface {
	// Name is the hook's registered name.
	Name() string
	definition() *definition
}

// definition is what every attachment of one hook shares.
type definition struct {
	name   string
	kind   Kind // KindFlow or KindTask
	opts   Options
	err    error
	invoke func(ctx context.Context, inv Invocation, info CallInfo) error
}

func newDefinition(name string, kind Kind, opts []Options) *definition {
	d := &definition{name: name, kind: kind}
	switch {
	case name == "":
		d.err = fmt.Errorf("flowstate: a hook needs a name")
	case len(opts) > 1:
		d.err = fmt.Errorf("flowstate: hook %q: give at most one Options", name)
	case len(opts) == 1:
		d.opts = opts[0]
		if err := d.opts.validate(); err != nil {
			d.err = fmt.Errorf("flowstate: hook %q: %w", name, err)
		}
	}
	return d
}

// attachment is a hook as a flow or task carries it: the definition, the arguments bound to it
// and options that override the definition's.
type attachment struct {
	def  *definition
	args json.RawMessage
	opts *Options
	err  error
}

func (a attachment) name() string {
	if a.def == nil {
		return ""
	}
	return a.def.name
}

func (a attachment) options() Options {
	o := a.def.opts
	if a.opts != nil {
		o = a.opts.WithDefaults(o)
	}
	return o
}

func (a attachment) check() error {
	if a.def == nil {
		return fmt.Errorf("flowstate: a zero hook value was attached; build hooks with NewFlowHook or NewTaskHook")
	}
	if a.def.err != nil {
		return a.def.err
	}
	return a.err
}

// FlowHook is a hook that flows can attach, built by NewFlowHook or FlowHookWithArgs.Bind.
type FlowHook struct{ a attachment }

// TaskHook is a hook that tasks can attach, built by NewTaskHook or TaskHookWithArgs.Bind.
type TaskHook struct{ a attachment }

// NewFlowHook defines a flow hook. name must be unique among a worker's hooks: the worker runs a
// hook call by looking its name up. opts, at most one, configure the hook's activity.
func NewFlowHook(name string, fn func(ctx context.Context, call FlowCall) error, opts ...Options) FlowHook {
	d := newDefinition(name, KindFlow, opts)
	d.invoke = func(ctx context.Context, inv Invocation, info CallInfo) error {
		call, err := inv.flowCall(info)
		if err != nil {
			return err
		}
		return fn(ctx, call)
	}
	return FlowHook{attachment{def: d}}
}

// NewTaskHook defines a task hook. See NewFlowHook.
func NewTaskHook(name string, fn func(ctx context.Context, call TaskCall) error, opts ...Options) TaskHook {
	d := newDefinition(name, KindTask, opts)
	d.invoke = func(ctx context.Context, inv Invocation, info CallInfo) error {
		call, err := inv.taskCall(info)
		if err != nil {
			return err
		}
		return fn(ctx, call)
	}
	return TaskHook{attachment{def: d}}
}

// InvalidFlowHook returns a flow hook named name that cannot work because of err, for
// constructors of built-in hooks that find their configuration wrong: a worker given it refuses
// to start with err, and each call made anyway fails at once without retrying.
func InvalidFlowHook(name string, err error) FlowHook {
	return FlowHook{attachment{def: invalidDefinition(name, KindFlow, err)}}
}

// InvalidTaskHook returns a task hook named name that cannot work because of err. See
// InvalidFlowHook.
func InvalidTaskHook(name string, err error) TaskHook {
	return TaskHook{attachment{def: invalidDefinition(name, KindTask, err)}}
}

func invalidDefinition(name string, kind Kind, err error) *definition {
	d := newDefinition(name, kind, nil)
	if d.err == nil {
		d.err = fmt.Errorf("flowstate: hook %q: %w", name, err)
	}
	d.invoke = func(context.Context, Invocation, CallInfo) error {
		return temporal.NewNonRetryableApplicationError(d.err.Error(), "flowstate.InvalidHook", nil)
	}
	return d
}

// FlowHookWithArgs is a flow hook that takes extra arguments of type A, bound when it is
// attached (Prefect's functools.partial). Bound arguments travel in workflow history as JSON:
// they must be serialisable and never secret.
type FlowHookWithArgs[A any] struct{ def *definition }

// TaskHookWithArgs is a task hook that takes extra arguments of type A. See FlowHookWithArgs.
type TaskHookWithArgs[A any] struct{ def *definition }

// NewFlowHookWithArgs defines a flow hook that takes bound arguments. See NewFlowHook.
func NewFlowHookWithArgs[A any](name string, fn func(ctx context.Context, call FlowCall, args A) error, opts ...Options) FlowHookWithArgs[A] {
	d := newDefinition(name, KindFlow, opts)
	d.invoke = func(ctx context.Context, inv Invocation, info CallInfo) error {
		call, err := inv.flowCall(info)
		if err != nil {
			return err
		}
		args, err := decodeArgs[A](name, inv.Args)
		if err != nil {
			return err
		}
		return fn(ctx, call, args)
	}
	return FlowHookWithArgs[A]{def: d}
}

// NewTaskHookWithArgs defines a task hook that takes bound arguments. See NewFlowHook.
func NewTaskHookWithArgs[A any](name string, fn func(ctx context.Context, call TaskCall, args A) error, opts ...Options) TaskHookWithArgs[A] {
	d := newDefinition(name, KindTask, opts)
	d.invoke = func(ctx context.Context, inv Invocation, info CallInfo) error {
		call, err := inv.taskCall(info)
		if err != nil {
			return err
		}
		args, err := decodeArgs[A](name, inv.Args)
		if err != nil {
			return err
		}
		return fn(ctx, call, args)
	}
	return TaskHookWithArgs[A]{def: d}
}

// Bind returns the hook with args bound, ready to attach to a flow.
func (h FlowHookWithArgs[A]) Bind(args A) FlowHook {
	raw, err := encodeArgs(h.def.name, args)
	return FlowHook{attachment{def: h.def, args: raw, err: err}}
}

// Bind returns the hook with args bound, ready to attach to a task.
func (h TaskHookWithArgs[A]) Bind(args A) TaskHook {
	raw, err := encodeArgs(h.def.name, args)
	return TaskHook{attachment{def: h.def, args: raw, err: err}}
}

func encodeArgs(name string, args any) (json.RawMessage, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("flowstate: hook %q: bound arguments are not serialisable as JSON: %w", name, err)
	}
	return raw, nil
}

func decodeArgs[A any](name string, raw json.RawMessage) (A, error) {
	var args A
	if len(raw) == 0 {
		return args, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&args); err != nil {
		return args, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: hook %q: bound arguments do not decode into %T: %v", name, args, err),
			"flowstate.BadHookArgs", err)
	}
	return args, nil
}

// Name returns the hook's registered name.
func (h FlowHook) Name() string { return h.a.name() }

// Name returns the hook's registered name.
func (h TaskHook) Name() string { return h.a.name() }

// Name returns the hook's registered name.
func (h FlowHookWithArgs[A]) Name() string { return h.def.name }

// Name returns the hook's registered name.
func (h TaskHookWithArgs[A]) Name() string { return h.def.name }

func (h FlowHook) definition() *definition            { return h.a.def }
func (h TaskHook) definition() *definition            { return h.a.def }
func (h FlowHookWithArgs[A]) definition() *definition { return h.def }
func (h TaskHookWithArgs[A]) definition() *definition { return h.def }

// WithOptions returns a copy of the hook whose calls use o; fields of o left zero keep the
// hook's own options.
func (h FlowHook) WithOptions(o Options) FlowHook {
	h.a.opts = &o
	if err := o.validate(); err != nil && h.a.err == nil {
		h.a.err = fmt.Errorf("flowstate: hook %q: %w", h.a.name(), err)
	}
	return h
}

// WithOptions returns a copy of the hook whose calls use o. See FlowHook.WithOptions.
func (h TaskHook) WithOptions(o Options) TaskHook {
	h.a.opts = &o
	if err := o.validate(); err != nil && h.a.err == nil {
		h.a.err = fmt.Errorf("flowstate: hook %q: %w", h.a.name(), err)
	}
	return h
}

// Err reports what is wrong with the hook: no name, bad options, or bound arguments that are not
// serialisable. A hook with an error fails each call and the failure is recorded.
func (h FlowHook) Err() error { return h.a.check() }

// Err reports what is wrong with the hook. See FlowHook.Err.
func (h TaskHook) Err() error { return h.a.check() }

// Options returns the options the hook's calls use, before worker defaults are applied.
func (h FlowHook) Options() Options { return h.a.options() }

// Options returns the options the hook's calls use, before worker defaults are applied.
func (h TaskHook) Options() Options { return h.a.options() }

// Args returns the JSON of the arguments bound to the hook, or nil.
func (h FlowHook) Args() json.RawMessage { return h.a.args }

// Args returns the JSON of the arguments bound to the hook, or nil.
func (h TaskHook) Args() json.RawMessage { return h.a.args }
