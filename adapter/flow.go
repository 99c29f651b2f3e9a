package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// Flow is a flow definition: a function of a workflow.Context and a typed input, run as the
// Temporal workflow type named after the flow. Build it with NewFlow.
//
// The input and output travel as JSON: `temporal workflow start --type <name> --input '{…}'`
// runs a flow.
type Flow[I, O any] struct {
	name string
	fn   func(workflow.Context, I) (O, error)

	mu   sync.RWMutex
	opts FlowOptions
	err  error
}

// AnyFlow is a flow of any input and output type, as a worker registers it.
type AnyFlow interface {
	// Name is the flow's name, its Temporal workflow type.
	Name() string
	// Options returns a copy of the flow's options.
	Options() FlowOptions
	// Err reports what is wrong with the definition, or nil.
	Err() error
	// ValidateInput reports whether raw is valid JSON for the flow's parameters.
	ValidateInput(raw json.RawMessage) error
	// WorkflowFunc returns the function the worker registers as the flow's workflow.
	WorkflowFunc() any
}

// AnyTask is a task of any input and output type, as a worker registers it.
type AnyTask interface {
	// Name is the task's name, its Temporal activity type.
	Name() string
	// Options returns a copy of the task's options.
	Options() TaskOptions
	// Err reports what is wrong with the definition, or nil.
	Err() error
	// ActivityFunc returns the function the worker registers as the task's activity.
	ActivityFunc() any
}

var (
	_ AnyFlow = (*Flow[int, int])(nil)
	_ AnyTask = (*Task[int, int])(nil)
)

// ErrInvalidInput is wrapped by the error of a flow run whose input is not valid JSON for the
// flow's parameters. The run ends Failed before its body runs.
var ErrInvalidInput = errors.New("flowstate: invalid flow input")

// InvalidInputError reports a flow input that does not decode into the flow's parameters.
type InvalidInputError struct {
	// Flow is the flow's name.
	Flow string
	// Err is the JSON decoding error.
	Err error
}

func (e *InvalidInputError) Error() string {
	return fmt.Sprintf("flowstate: flow %q: input is not valid JSON for its parameters: %v", e.Flow, e.Err)
}

// Unwrap returns ErrInvalidInput and the decoding error.
func (e *InvalidInputError) Unwrap() []error { return []error{ErrInvalidInput, e.Err} }

// NewFlow defines a flow. name is its Temporal workflow type and must be unique on a worker. opts,
// at most one, configure it; a problem with them is reported by Err and by the worker that
// registers the flow.
//
// fn is Temporal workflow code: it must be deterministic (see the workflow package's rules).
func NewFlow[I, O any](name string, fn func(ctx workflow.Context, input I) (O, error), opts ...FlowOptions) *Flow[I, O] {
	f := &Flow[I, O]{name: name, fn: fn}
	switch {
	case name == "":
		f.err = fmt.Errorf("%w: a flow needs a name", ErrInvalidOptions)
	case strings.HasPrefix(name, names.Reserved):
		f.err = fmt.Errorf("%w: flow %q: names starting with %q are flowstate's own", ErrInvalidOptions, name, names.Reserved)
	case fn == nil:
		f.err = fmt.Errorf("%w: flow %q has no function", ErrInvalidOptions, name)
	case len(opts) > 1:
		f.err = fmt.Errorf("%w: flow %q: give at most one FlowOptions", ErrInvalidOptions, name)
	case len(opts) == 1:
		f.opts = opts[0]
	}
	return f
}

// Name returns the flow's name, its Temporal workflow type.
func (f *Flow[I, O]) Name() string { return f.name }

// Options returns a copy of the flow's options.
func (f *Flow[I, O]) Options() FlowOptions {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return cloneFlowOptions(f.opts)
}

// Err reports what is wrong with the definition, or nil.
func (f *Flow[I, O]) Err() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.err != nil {
		return f.err
	}
	if err := f.opts.Validate(); err != nil {
		return fmt.Errorf("flow %q: %w", f.name, err)
	}
	return nil
}

// WithOptions returns a copy of the flow with options changed by edit: Prefect's with_options.
// The copy has the same name; register either the copy or the original on a worker, not both.
func (f *Flow[I, O]) WithOptions(edit func(*FlowOptions)) *Flow[I, O] {
	c := &Flow[I, O]{name: f.name, fn: f.fn, err: f.err, opts: f.Options()}
	edit(&c.opts)
	return c
}

// OnRunning attaches hooks that run before the body on every attempt, after those already
// attached. Like Prefect's @flow.on_running, it changes the definition: call it before the worker
// starts. It returns f.
func (f *Flow[I, O]) OnRunning(h ...hooks.FlowHook) *Flow[I, O] {
	return f.attach(func(o *FlowOptions) { o.OnRunning = append(o.OnRunning, h...) })
}

// OnCompletion attaches hooks that run when a run completes. See OnRunning.
func (f *Flow[I, O]) OnCompletion(h ...hooks.FlowHook) *Flow[I, O] {
	return f.attach(func(o *FlowOptions) { o.OnCompletion = append(o.OnCompletion, h...) })
}

// OnFailure attaches hooks that run when a run fails after its retries. See OnRunning.
func (f *Flow[I, O]) OnFailure(h ...hooks.FlowHook) *Flow[I, O] {
	return f.attach(func(o *FlowOptions) { o.OnFailure = append(o.OnFailure, h...) })
}

// OnCancellation attaches hooks that run when a run is being cancelled. See OnRunning.
func (f *Flow[I, O]) OnCancellation(h ...hooks.FlowHook) *Flow[I, O] {
	return f.attach(func(o *FlowOptions) { o.OnCancellation = append(o.OnCancellation, h...) })
}

// OnCrashed attaches hooks that run when a run crashes. See OnRunning.
func (f *Flow[I, O]) OnCrashed(h ...hooks.FlowHook) *Flow[I, O] {
	return f.attach(func(o *FlowOptions) { o.OnCrashed = append(o.OnCrashed, h...) })
}

func (f *Flow[I, O]) attach(edit func(*FlowOptions)) *Flow[I, O] {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(&f.opts)
	return f
}

// ValidateInput reports whether raw is valid JSON for the flow's parameters. Empty input and
// JSON null stand for the zero value; unknown object fields are an error, as Prefect rejects
// unexpected parameters.
func (f *Flow[I, O]) ValidateInput(raw json.RawMessage) error {
	_, err := f.decode(raw)
	return err
}

func (f *Flow[I, O]) decode(raw json.RawMessage) (I, error) {
	var in I
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return in, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, &InvalidInputError{Flow: f.name, Err: err}
	}
	if dec.More() {
		return in, &InvalidInputError{Flow: f.name, Err: errors.New("extra data after the JSON value")}
	}
	return in, nil
}

// WorkflowFunc returns the function the worker registers as the flow's workflow: it decodes the
// JSON input into the flow's parameters and calls the flow.
func (f *Flow[I, O]) WorkflowFunc() any {
	return func(ctx workflow.Context, raw json.RawMessage) (O, error) {
		in, err := f.decode(raw)
		if err != nil {
			var zero O
			return zero, temporal.NewNonRetryableApplicationError(err.Error(), names.ErrTypeInvalidInput, err)
		}
		return f.fn(ctx, in)
	}
}

// ContinueAsNew returns the error that continues the flow run as a new run of this flow with
// input: return it from the flow body (workflow.NewContinueAsNewError does the same). It is not a
// failure: no retry, no terminal hook. The chain of runs is one flow run to flowstate: its state
// history, attempt and data carry on, its on_completion (or on_failure) hooks run once, when its
// last run ends, and ReadHistory reads the whole chain. Use it to keep a long-running flow's
// history short, typically when ContinueAsNewSuggested says so.
func (f *Flow[I, O]) ContinueAsNew(ctx workflow.Context, input I) error {
	raw, err := json.Marshal(input)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: flow %q: the input to continue as new with is not serialisable as JSON: %v", f.name, err), names.ErrTypeInvalidInput, err)
	}
	return workflow.NewContinueAsNewError(ctx, f.name, json.RawMessage(raw))
}

// ContinueAsNew returns the error that continues the calling flow run as a new run of the same
// flow with input, like Flow.ContinueAsNew: use it where the flow's own value is not at hand, such
// as in the function a package-level flow is made of (which cannot name the flow it initialises).
func ContinueAsNew(ctx workflow.Context, input any) error {
	name := workflow.GetInfo(ctx).WorkflowType.Name
	raw, err := json.Marshal(input)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: flow %q: the input to continue as new with is not serialisable as JSON: %v", name, err), names.ErrTypeInvalidInput, err)
	}
	return workflow.NewContinueAsNewError(ctx, name, json.RawMessage(raw))
}

// ContinueAsNewSuggested reports whether Temporal suggests that the run continue as new: its
// history (the hooks' events included) grows long. Check it in long loops and return
// Flow.ContinueAsNew when it says so.
func ContinueAsNewSuggested(ctx workflow.Context) bool {
	return workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// RunSubflow runs the flow as a subflow of the calling flow (a Temporal child workflow) and waits
// for its result. The subflow's own hooks run in the child.
func (f *Flow[I, O]) RunSubflow(ctx workflow.Context, input I) (O, error) {
	out, _, err := f.subflow(ctx, input)
	return out, err
}

// SubflowState runs the flow as a subflow and returns its final state instead of an error.
func (f *Flow[I, O]) SubflowState(ctx workflow.Context, input I) (O, hooks.State) {
	out, st, _ := f.subflow(ctx, input)
	return out, st
}

func (f *Flow[I, O]) subflow(ctx workflow.Context, input I) (O, hooks.State, error) {
	var out O
	call := &flowctx.Call{}
	if err := f.Err(); err != nil {
		err = temporal.NewNonRetryableApplicationError(err.Error(), "flowstate.InvalidFlow", err)
		return out, classify.Attempt(err, workflow.Now(ctx), 0).State, err
	}
	params, err := json.Marshal(input)
	if err != nil {
		err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("flowstate: subflow %q: input is not serialisable as JSON: %v", f.name, err), names.ErrTypeInvalidInput, err)
		return out, classify.Attempt(err, workflow.Now(ctx), 0).State, err
	}
	call.Parameters = params
	cwo := workflow.ChildWorkflowOptions{
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
	}
	if run := flowctx.RunFrom(ctx); run != nil {
		call.ID = run.Info().ID + "/" + run.NextID(f.name)
		cwo.WorkflowID = call.ID
	}
	cctx := workflow.WithChildOptions(flowctx.WithCall(ctx, call), cwo)
	err = workflow.ExecuteChildWorkflow(cctx, f.name, json.RawMessage(params)).Get(ctx, &out)
	if call.Final != nil {
		return out, *call.Final, err
	}
	return out, classify.Attempt(err, workflow.Now(ctx), 0).State, err
}

// Start starts a run of the flow from a Temporal client. opts.TaskQueue is required; the workflow
// ID defaults to a random one.
func (f *Flow[I, O]) Start(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, input I) (*FlowRunHandle[O], error) {
	if err := f.Err(); err != nil {
		return nil, err
	}
	run, err := StartFlow(ctx, c, opts, f.name, input)
	if err != nil {
		return nil, err
	}
	return &FlowRunHandle[O]{c: c, run: run}, nil
}

// StartFlow starts a run of the flow named flowName with input (any value that encodes as JSON
// for the flow's parameters, a json.RawMessage included), as Flow.Start does, for callers that
// only have the flow's name. opts.TaskQueue is required.
//
// The run starts with a static summary naming the flow, unless opts gives one, and with its
// FlowState search attribute set to Running, which saves it the update
// it would make when its first attempt starts. A server where FlowState is not registered
// refuses that: the run is started without it then.
func StartFlow(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, flowName string, input any) (client.WorkflowRun, error) {
	if opts.TaskQueue == "" {
		return nil, fmt.Errorf("flowstate: starting flow %q: StartWorkflowOptions.TaskQueue is required", flowName)
	}
	if opts.StaticSummary == "" {
		// What the Web UI shows for the run in its list and on its page.
		opts.StaticSummary = "flowstate flow " + flowName
	}
	withState := opts
	if !opts.TypedSearchAttributes.ContainsKey(stateKey) {
		withState.TypedSearchAttributes = temporal.NewSearchAttributes(opts.TypedSearchAttributes.Copy(), stateKey.ValueSet(hooks.NameRunning))
	}
	run, err := c.ExecuteWorkflow(ctx, withState, flowName, input)
	if err != nil && strings.Contains(err.Error(), names.SAState) {
		run, err = c.ExecuteWorkflow(ctx, opts, flowName, input)
	}
	if err != nil {
		return nil, fmt.Errorf("flowstate: starting flow %q: %w", flowName, err)
	}
	return run, nil
}

var stateKey = temporal.NewSearchAttributeKeyKeyword(names.SAState)

// FlowRunHandle is a started flow run, seen from a Temporal client.
type FlowRunHandle[O any] struct {
	c   client.Client
	run client.WorkflowRun
}

// ID returns the run's workflow ID.
func (h *FlowRunHandle[O]) ID() string { return h.run.GetID() }

// RunID returns the run's Temporal run ID.
func (h *FlowRunHandle[O]) RunID() string { return h.run.GetRunID() }

// Get waits for the run to close and returns its result or error.
func (h *FlowRunHandle[O]) Get(ctx context.Context) (O, error) {
	var out O
	err := h.run.Get(ctx, &out)
	return out, err
}

// History returns the run's state history, open or closed.
func (h *FlowRunHandle[O]) History(ctx context.Context) (hooks.History, error) {
	return ReadHistory(ctx, h.c, h.run.GetID(), h.run.GetRunID())
}

func cloneFlowOptions(o FlowOptions) FlowOptions {
	o.Tags = append([]string(nil), o.Tags...)
	o.OnRunning = append([]hooks.FlowHook(nil), o.OnRunning...)
	o.OnCompletion = append([]hooks.FlowHook(nil), o.OnCompletion...)
	o.OnFailure = append([]hooks.FlowHook(nil), o.OnFailure...)
	o.OnCancellation = append([]hooks.FlowHook(nil), o.OnCancellation...)
	o.OnCrashed = append([]hooks.FlowHook(nil), o.OnCrashed...)
	if l, ok := o.RetryDelay.(DelayList); ok {
		o.RetryDelay = append(DelayList(nil), l...)
	}
	return o
}
