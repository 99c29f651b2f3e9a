package testsuite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// Env runs flows in Temporal's in-memory test environment with the flowstate interceptors and the
// worker's real hooks, and records every hook call. It embeds the SDK's TestWorkflowEnvironment,
// so everything that environment offers (mock activities, delayed callbacks, cancellation) works.
// An Env runs one flow; build a new one for each run.
type Env struct {
	*sdktestsuite.TestWorkflowEnvironment
	t     testing.TB
	setup *worker.Setup

	mu       sync.Mutex
	calls    []HookCall
	replaced map[string]func(context.Context, hooks.Invocation) error
}

// HookCall is one attempt of a hook call, as the hook-runner activity saw it.
type HookCall struct {
	// Invocation is what the workflow asked for: the hook, the event, the run, the state and the
	// bound arguments.
	hooks.Invocation
	// Attempt is the activity attempt, from 1.
	Attempt int
	// Err is what the hook returned.
	Err error
}

// NewEnv returns an environment with the definitions in opts registered, as a worker built with
// the same options would have them. It fails the test when the definitions are invalid.
func NewEnv(t testing.TB, opts worker.Options) *Env {
	t.Helper()
	env, err := TryNewEnv(t, opts)
	if err != nil {
		t.Fatalf("flowstate testsuite: %v", err)
	}
	return env
}

// TryNewEnv is NewEnv returning the definitions' error instead of failing the test.
func TryNewEnv(t testing.TB, opts worker.Options) (*Env, error) {
	setup, err := worker.NewSetup(opts, opts.SearchAttributes == worker.SearchAttributesOn)
	if err != nil {
		return nil, err
	}
	var suite sdktestsuite.WorkflowTestSuite
	suite.SetLogger(testLogger(t))
	e := &Env{
		TestWorkflowEnvironment: suite.NewTestWorkflowEnvironment(),
		t:                       t,
		setup:                   setup,
		replaced:                map[string]func(context.Context, hooks.Invocation) error{},
	}
	wopts := opts.Worker
	wopts.Interceptors = append(append(wopts.Interceptors[:0:0], wopts.Interceptors...), setup.Interceptors...)
	e.SetWorkerOptions(sdkworker.Options{Interceptors: wopts.Interceptors})
	setup.Register(e, e.runHook)
	return e, nil
}

// Hooks returns the environment's hook registry.
func (e *Env) Hooks() *hooks.Registry { return e.setup.Hooks }

// ReplaceHook makes calls of the hook named name run fn instead of the registered hook. The calls
// are still recorded.
func (e *Env) ReplaceHook(name string, fn func(ctx context.Context, inv hooks.Invocation) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.replaced[name] = fn
}

func (e *Env) runHook(ctx context.Context, inv hooks.Invocation) error {
	attempt := int(activity.GetInfo(ctx).Attempt)
	e.mu.Lock()
	fn := e.replaced[inv.Hook]
	e.mu.Unlock()
	var err error
	if e.setup.Secrets != nil {
		ctx = hooks.WithSecrets(ctx, e.setup.Secrets)
	}
	if fn != nil {
		err = fn(ctx, inv)
	} else {
		err = e.setup.Hooks.Invoke(ctx, inv, attempt)
	}
	e.mu.Lock()
	e.calls = append(e.calls, HookCall{Invocation: inv, Attempt: attempt, Err: err})
	e.mu.Unlock()
	return err
}

// ExecuteFlow runs a flow with the given input to completion (the SDK's ExecuteWorkflow).
func (e *Env) ExecuteFlow(f adapter.AnyFlow, input any) {
	e.ExecuteWorkflow(f.Name(), input)
}

// History returns the flow run's state history, read through the flowstate query.
func (e *Env) History() hooks.History {
	e.t.Helper()
	h, err := e.TryHistory()
	if err != nil {
		e.t.Fatalf("flowstate testsuite: %v", err)
	}
	return h
}

// TryHistory is History returning the error instead of failing the test.
func (e *Env) TryHistory() (hooks.History, error) {
	v, err := e.QueryWorkflow(adapter.QueryType)
	if err != nil {
		return hooks.History{}, fmt.Errorf("querying the state history: %w", err)
	}
	var h hooks.History
	if err := v.Get(&h); err != nil {
		return hooks.History{}, fmt.Errorf("decoding the state history: %w", err)
	}
	return h, nil
}

// HookCalls returns every hook call attempt, in the order they ran.
func (e *Env) HookCalls() []HookCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]HookCall(nil), e.calls...)
}

// CallsOf returns the attempts of calls to the hook named name.
func (e *Env) CallsOf(name string) []HookCall {
	var out []HookCall
	for _, c := range e.HookCalls() {
		if c.Hook == name {
			out = append(out, c)
		}
	}
	return out
}

// Result returns the result and error of the flow run the environment executed.
func Result[O any](e *Env) (O, error) {
	var out O
	if !e.IsWorkflowCompleted() {
		return out, errors.New("flowstate testsuite: the flow has not completed")
	}
	if err := e.GetWorkflowError(); err != nil {
		return out, err
	}
	err := e.GetWorkflowResult(&out)
	return out, err
}
