package workflows

import (
	"encoding/json"

	"go.temporal.io/sdk/interceptor"
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
}

// Options configure the interceptor.
type Options struct {
	// Flows are the workflow types managed as flows, by type name: the worker's adapter flows and
	// the plain workflows it attaches hooks to. Other workflows pass through untouched, except
	// for activities listed in Tasks.
	Flows map[string]FlowSpec
	// Tasks attach task options (hooks, retries) to plain activity types by name, for activities
	// scheduled with workflow.ExecuteActivity rather than through adapter.Task.
	Tasks map[string]adapter.TaskOptions
	// Hooks is the worker's hook registry: a hook call for a name it lacks fails at once, with a
	// clear error recorded in the state history, instead of being scheduled. nil skips the check.
	Hooks *hooks.Registry
	// HookDefaults are the options of hook activities that leave a field zero.
	// default: the hooks package defaults
	HookDefaults hooks.Options
	// SearchAttributes tells that the FlowState search attribute is registered on the namespace,
	// so that flow runs keep it current. Without it flows run with their state in the memo only.
	// Change it only with every worker restarted: a run replayed by a worker that decides
	// otherwise fails its workflow task as non-deterministic.
	// default: false
	SearchAttributes bool
}

// Interceptor is the workflow-side flowstate interceptor. It turns the lifecycle of flow
// workflows, their activities and child workflows into the flowstate state model, and schedules
// hooks as activities. Register it with the worker (the worker package does).
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	opts Options
}

var _ interceptor.WorkerInterceptor = (*Interceptor)(nil)

// NewInterceptor returns an interceptor with the given options.
func NewInterceptor(opts Options) *Interceptor {
	return &Interceptor{opts: opts}
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
	spec *FlowSpec // nil: not a flow
	run  *flowRun  // set once ExecuteWorkflow starts a flow run
	out  *outbound
	ids  map[string]int
}

func (in *inbound) Init(next interceptor.WorkflowOutboundInterceptor) error {
	in.out = &outbound{in: in}
	in.out.Next = next
	return in.Next.Init(in.out)
}

func (in *inbound) ExecuteWorkflow(ctx workflow.Context, input *interceptor.ExecuteWorkflowInput) (any, error) {
	if in.spec == nil {
		return in.Next.ExecuteWorkflow(ctx, input)
	}
	in.run = newFlowRun(ctx, in, input)
	return in.run.execute(ctx, input)
}

func (in *inbound) HandleSignal(ctx workflow.Context, input *interceptor.HandleSignalInput) error {
	if input.SignalName == names.SignalData && in.run != nil {
		return in.run.handleDataSignal(ctx, input)
	}
	return in.Next.HandleSignal(ctx, input)
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
	call := newTaskCall(ctx, o, activityType, args)
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
