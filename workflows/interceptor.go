package workflows

import (
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// QueryType is the query type that returns a flow run's state history (a hooks.History).
const QueryType = names.Query

// MemoKey is the memo key holding a closed flow run's state history.
const MemoKey = names.MemoHistory

// SearchAttribute is the Keyword search attribute holding a flow run's current state name
// (Running, AwaitingRetry, Completed, TimedOut, …): `temporal workflow list --query "FlowState='Failed'"`.
const SearchAttribute = names.SAState

// FlowSpec is what the interceptor knows of one workflow type it manages as a flow.
type FlowSpec struct {
	// Options are the flow's options: retries, timeout, run name, hooks.
	Options adapter.FlowOptions
	// ValidateInput checks the run's JSON input before anything else runs; a failure ends the run
	// Failed before its body, with on_failure hooks and no on_running. nil accepts any input
	// (plain Temporal workflows).
	ValidateInput func(raw json.RawMessage) error
	// Plain marks a plain Temporal workflow with options attached by name: only its runs that
	// started with the options attached are managed as flows (those record their plan), so that
	// attaching options never changes a run in flight.
	Plain bool
}

func (s *FlowSpec) validator() func(json.RawMessage) error {
	if s == nil {
		return nil
	}
	return s.ValidateInput
}

// Options configure the interceptor.
type Options struct {
	// Flows are the workflow types managed as flows, by type name: the worker's adapter flows and
	// the plain workflows it attaches options to. Other workflows pass through untouched, except
	// for activities listed in Tasks, and runs that recorded a flow plan.
	Flows map[string]FlowSpec
	// Tasks attach task options (hooks, retries) to plain activity types by name, for activities
	// scheduled with workflow.ExecuteActivity rather than through adapter.Task.
	Tasks map[string]adapter.TaskOptions
	// Hooks is the worker's hook registry: a hook a new run's plan names that the registry lacks
	// fails at once, with a clear error recorded in the state history.
	Hooks *hooks.Registry
	// HookDefaults are the options of hook calls whose hooks leave a field zero.
	// default: the hooks package defaults
	HookDefaults hooks.Options
	// SearchAttributes tells that the FlowState search attribute is registered on the namespace.
	// It decides whether new runs started without FlowState keep it; a run keeps its decision on
	// every replay, whatever later workers know.
	// default: false
	SearchAttributes bool
	// LegacyRuns makes runs that recorded no plan follow the worker's definitions, as runs of
	// flowstate v0.1 (which recorded none) did; new runs then always record their plan, so that
	// they are told apart. Set it while runs started by flowstate v0.1 are in flight, with the
	// definitions they started with.
	// default: false
	LegacyRuns bool
	// Tracer, the tracer of the SDK's tracing interceptor (interceptor.NewTracingInterceptor, or
	// the OpenTelemetry, OpenTracing and Datadog contrib packages), makes every state transition
	// and hook call a span of its own, a child of the flow's workflow span. Spans are made once,
	// not again when a workflow replays; they cost no history.
	// default: none
	Tracer interceptor.Tracer
}

// Interceptor is the workflow-side flowstate interceptor. It turns the lifecycle of flow
// workflows, their activities and child workflows into the flowstate state model, and schedules
// hooks. Register it with the worker (the worker package does).
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	opts Options
	pl   planner
}

var _ interceptor.WorkerInterceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor with the given options.
func NewInterceptor(opts Options) *Interceptor {
	return &Interceptor{opts: opts, pl: planner{defaults: opts.HookDefaults, reg: opts.Hooks, noState: !opts.SearchAttributes}}
}

// InterceptWorkflow implements interceptor.WorkerInterceptor.
func (i *Interceptor) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	in := &inbound{root: i}
	in.Next = next
	if spec, ok := i.opts.Flows[workflow.GetInfo(ctx).WorkflowType.Name]; ok {
		in.spec = &spec
	}
	return in
}

// inbound intercepts one workflow execution.
type inbound struct {
	interceptor.WorkflowInboundInterceptorBase
	root *Interceptor
	spec *FlowSpec // nil: not a flow on this worker
	run  *flowRun  // set once ExecuteWorkflow starts a flow run
	out  *outbound
	ids  map[string]int
	recs records
	// planned holds the tasks whose plan this execution fixed: the tasks its flow code called
	// (not counting calls of WithOptions copies).
	planned map[string]bool
	// legacyRun is set for a run that started on flowstate v0.1, under Options.LegacyRuns.
	legacyRun bool
}

func (in *inbound) Init(next interceptor.WorkflowOutboundInterceptor) error {
	in.out = &outbound{in: in}
	in.out.Next = next
	return in.Next.Init(in.out)
}

func (in *inbound) ExecuteWorkflow(ctx workflow.Context, input *interceptor.ExecuteWorkflowInput) (any, error) {
	plan, managed, err := in.flowPlan(ctx)
	if err != nil {
		return nil, err
	}
	if !managed {
		return in.Next.ExecuteWorkflow(ctx, input)
	}
	in.run = newFlowRun(ctx, in, input, plan)
	return in.run.execute(ctx, input)
}

// flowPlan returns the run's flow plan and whether the run is managed as a flow: the plan the run
// recorded, or, when it recorded none, the zero plan (an adapter flow), none (a plain workflow
// that started without options attached), or the worker's definitions (a legacy run). A run's
// first workflow task makes its plan from the worker's definitions and records it unless it is
// zero.
func (in *inbound) flowPlan(ctx workflow.Context) (flowPlan, bool, error) {
	var p flowPlan
	found, err := in.recs.get(ctx, names.RecordFlowPlan, &p)
	if err != nil || found {
		return p, found, err
	}
	o := in.root.opts
	noStateAtStart := !workflow.GetTypedSearchAttributes(ctx).ContainsKey(stateKey)
	if workflow.IsReplaying(ctx) {
		switch {
		case in.spec == nil:
			return p, false, nil
		case o.LegacyRuns:
			in.legacyRun = true
			return in.root.pl.flowPlan(in.spec.Options, noStateAtStart, true), true, nil
		case in.spec.Plain:
			return p, false, nil
		}
		return p, true, nil
	}
	if in.spec == nil {
		return p, false, nil
	}
	p = in.root.pl.flowPlan(in.spec.Options, noStateAtStart, false)
	if !p.zero() || in.spec.Plain || o.LegacyRuns {
		in.recs.put(ctx, names.RecordFlowPlan, "flowstate: the flow run's hook plan", p)
	}
	return p, true, nil
}

// legacy reports whether the run's tasks follow the worker's definitions, as under flowstate
// v0.1: a run that started on v0.1, or, under Options.LegacyRuns, a run that is not a flow.
func (in *inbound) legacy() bool {
	return in.legacyRun || (in.root.opts.LegacyRuns && in.run == nil)
}

// taskPlanFor returns the plan of one task call: the call's own recorded plan, else the task's
// recorded plan, else, on replay, the zero plan. Outside replay, a call of the task's definition
// takes the plan fixed at the run's first call of the task, whatever the worker's definitions
// say now (so a deploy changes no task a run already called), and the first call fixes it from
// the options, recorded unless it is zero; a call of a WithOptions copy (isCopy) takes the plan
// its options give, recorded when it differs from the one that applies. index is n of the
// call's ID "name#n".
func (in *inbound) taskPlanFor(ctx workflow.Context, name, runID string, index int, opts adapter.TaskOptions, isCopy, legacy bool) (taskPlan, error) {
	var p taskPlan
	callID := names.RecordCallPlan + runID
	if found, err := in.recs.get(ctx, callID, &p); found || err != nil {
		return p, err
	}
	var base taskPlan
	nameID := names.RecordTaskPlan + name
	named, err := in.recs.get(ctx, nameID, &base)
	if err != nil {
		return p, err
	}
	if named && base.Since > index {
		base = taskPlan{}
	}
	if legacy && !named {
		return in.root.pl.taskPlan(opts, true), nil
	}
	planned := in.planned[name]
	if !isCopy {
		if in.planned == nil {
			in.planned = map[string]bool{}
		}
		in.planned[name] = true
	}
	if workflow.IsReplaying(ctx) || (!isCopy && (named || planned)) {
		return base, nil
	}
	p = in.root.pl.taskPlan(opts, false)
	switch {
	case p.same(base):
		return base, nil
	case !isCopy:
		p.Since = index
		in.recs.put(ctx, nameID, fmt.Sprintf("flowstate: the hook plan of task %s", name), p)
	default:
		in.recs.put(ctx, callID, fmt.Sprintf("flowstate: the hook plan of task run %s", runID), p)
	}
	return p, nil
}

func (in *inbound) HandleSignal(ctx workflow.Context, input *interceptor.HandleSignalInput) error {
	if input.SignalName == names.SignalData && in.run != nil {
		return in.run.handleDataSignal(ctx, input)
	}
	if input.SignalName == names.SignalTxData && in.run != nil {
		return in.run.handleTxDataSignal(ctx, input)
	}
	return in.Next.HandleSignal(ctx, input)
}

// nextID returns a fresh ID for a run named name within this workflow execution, name#n, and n.
// It is deterministic, as workflow code runs in the same order on every replay.
func (in *inbound) nextID(name string) (string, int) {
	if in.ids == nil {
		in.ids = map[string]int{}
	}
	in.ids[name]++
	return fmt.Sprintf("%s#%d", name, in.ids[name]), in.ids[name]
}

// outbound intercepts the calls one workflow execution makes.
type outbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *inbound
}

func (o *outbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if activityType == names.HookActivity {
		return o.Next.ExecuteActivity(ctx, activityType, args...)
	}
	call, err := newTaskCall(ctx, o, activityType, args)
	if err != nil {
		f, set := workflow.NewFuture(ctx)
		set.SetError(temporal.NewNonRetryableApplicationError(err.Error(), "flowstate.Plan", err))
		return f
	}
	if call == nil {
		return o.Next.ExecuteActivity(ctx, activityType, args...)
	}
	return call.start()
}

func (o *outbound) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...any) workflow.ChildWorkflowFuture {
	f := o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
	if o.in.run != nil {
		o.in.run.watchSubflow(ctx, childWorkflowType, f)
	}
	return f
}
