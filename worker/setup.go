package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/workflows"
)

// ErrDuplicateName is wrapped by the error of a worker given two flows, or two tasks, with one
// name.
var ErrDuplicateName = errors.New("flowstate: two definitions share a name")

// Registrar is where a Setup registers workflows and activities: a Temporal worker, or the SDK's
// in-memory test environment.
type Registrar interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Setup is what flowstate adds to a Temporal worker for a set of definitions: the hook registry,
// the interceptors, and the workflow and activity registrations. New builds one; the testsuite
// package uses it with the in-memory test environment.
type Setup struct {
	// Hooks holds every hook the worker can run.
	Hooks *hooks.Registry
	// Interceptors are flowstate's workflow and activity interceptors.
	Interceptors []interceptor.WorkerInterceptor

	// Secrets resolves the named secrets hooks ask for.
	Secrets hooks.SecretResolver

	flows     []adapter.AnyFlow
	tasks     []adapter.AnyTask
	wf        *workflows.Interceptor
	flowTypes []string
}

// NewSetup validates the definitions in opts and builds the hook registry and interceptors.
// searchAttributes tells whether the FlowState search attribute is registered.
func NewSetup(opts Options, searchAttributes bool) (*Setup, error) {
	s := &Setup{Hooks: hooks.NewRegistry(), Secrets: opts.Secrets, flows: opts.Flows, tasks: opts.Tasks}
	flowSpecs := map[string]workflows.FlowSpec{}
	taskOpts := map[string]adapter.TaskOptions{}
	var errs []error

	for _, f := range opts.Flows {
		if f == nil {
			errs = append(errs, errors.New("flowstate: a nil flow was given"))
			continue
		}
		if err := f.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := flowSpecs[f.Name()]; dup {
			errs = append(errs, fmt.Errorf("%w: flow %q is given twice", ErrDuplicateName, f.Name()))
			continue
		}
		o := f.Options()
		flowSpecs[f.Name()] = workflows.FlowSpec{Options: o, ValidateInput: f.ValidateInput}
		s.flowTypes = append(s.flowTypes, f.Name())
		errs = append(errs, registerFlowHooks(s.Hooks, o))
	}
	for name, o := range opts.Workflows {
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("workflow %q: %w", name, err))
			continue
		}
		if _, dup := flowSpecs[name]; dup {
			errs = append(errs, fmt.Errorf("%w: %q is both a flow and a plain workflow with hooks", ErrDuplicateName, name))
			continue
		}
		flowSpecs[name] = workflows.FlowSpec{Options: o, Plain: true}
		s.flowTypes = append(s.flowTypes, name)
		errs = append(errs, registerFlowHooks(s.Hooks, o))
	}
	for _, t := range opts.Tasks {
		if t == nil {
			errs = append(errs, errors.New("flowstate: a nil task was given"))
			continue
		}
		if err := t.Err(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := taskOpts[t.Name()]; dup {
			errs = append(errs, fmt.Errorf("%w: task %q is given twice", ErrDuplicateName, t.Name()))
			continue
		}
		o := t.Options()
		taskOpts[t.Name()] = o
		errs = append(errs, registerTaskHooks(s.Hooks, o))
	}
	plainTasks := map[string]adapter.TaskOptions{}
	for name, o := range opts.Activities {
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("activity %q: %w", name, err))
			continue
		}
		if _, dup := taskOpts[name]; dup {
			errs = append(errs, fmt.Errorf("%w: %q is both a task and a plain activity with hooks", ErrDuplicateName, name))
			continue
		}
		taskOpts[name] = o
		plainTasks[name] = o
		errs = append(errs, registerTaskHooks(s.Hooks, o))
	}
	errs = append(errs, s.Hooks.Register(opts.Hooks...))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	sort.Strings(s.flowTypes)
	s.wf = workflows.NewInterceptor(workflows.Options{
		Flows:            flowSpecs,
		Tasks:            plainTasks,
		Hooks:            s.Hooks,
		HookDefaults:     opts.HookDefaults,
		SearchAttributes: searchAttributes,
		LegacyRuns:       opts.LegacyRuns,
		Tracer:           opts.Tracer,
	})
	s.Interceptors = []interceptor.WorkerInterceptor{s.wf, activities.NewInterceptor(activities.Options{Tasks: taskOpts, DataConverter: opts.DataConverter})}
	return s, nil
}

func registerFlowHooks(reg *hooks.Registry, o adapter.FlowOptions) error {
	var errs []error
	for _, e := range hooks.Events {
		for _, h := range o.Hooks(e) {
			errs = append(errs, reg.Register(h))
		}
	}
	return errors.Join(errs...)
}

func registerTaskHooks(reg *hooks.Registry, o adapter.TaskOptions) error {
	var errs []error
	for _, e := range hooks.TaskEvents {
		for _, h := range o.Hooks(e) {
			errs = append(errs, reg.Register(h))
		}
	}
	return errors.Join(errs...)
}

// Register registers the flows, the tasks and the hook runner with r. hookRunner replaces the
// hook-runner activity when not nil (the testsuite records calls with it).
func (s *Setup) Register(r Registrar, hookRunner func(ctx context.Context, inv hooks.Invocation) error) {
	for _, f := range s.flows {
		r.RegisterWorkflowWithOptions(f.WorkflowFunc(), workflow.RegisterOptions{Name: f.Name()})
	}
	for _, t := range s.tasks {
		r.RegisterActivityWithOptions(t.ActivityFunc(), activity.RegisterOptions{Name: t.Name()})
	}
	if hookRunner == nil {
		hookRunner = activities.NewHookRunner(s.Hooks, s.Secrets).Run
	}
	r.RegisterActivityWithOptions(hookRunner, activity.RegisterOptions{Name: activities.HookActivity})
	r.RegisterWorkflowWithOptions(s.wf.CrashHandler, workflow.RegisterOptions{Name: workflows.CrashHandlerWorkflow})
}

// planFor gives the crash handler of a run that never ran a workflow task the plan the worker's
// definitions give its flow type.
func (s *Setup) planFor(flowType string, stateAtStart bool) ([]byte, bool) {
	return s.wf.PlanFor(flowType, stateAtStart)
}

// FlowTypes returns the workflow types run as flows (flows and plain workflows with hooks),
// sorted: the crash sweeper starts a crash handler for each of their runs that is terminated or
// times out on the server.
func (s *Setup) FlowTypes() []string { return append([]string(nil), s.flowTypes...) }
