package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.temporal.io/sdk/temporal"
)

// Invocation is one hook call as it travels from a workflow to the hook-runner activity: the
// hook's name, the event, the run it is about and the arguments bound to it. It is recorded in
// workflow history, so it holds nothing secret.
type Invocation struct {
	// Hook is the registered name of the hook to call.
	Hook string `json:"hook"`
	// Event is the event that fired.
	Event Event `json:"event"`
	// Key is the call's idempotency key.
	Key string `json:"key"`
	// Args is the JSON of the arguments bound to the hook, if any.
	Args json.RawMessage `json:"args,omitempty"`
	// AttemptBase is added to the activity's attempt to give the call's attempt: a ModeAuto call
	// that moved from a local activity to an activity goes on counting where it stopped.
	AttemptBase int `json:"attempt_base,omitempty"`
	// State is the state the run entered.
	State State `json:"state"`
	// Flow and FlowRun are set for flow hooks.
	Flow    *FlowInfo `json:"flow,omitempty"`
	FlowRun *FlowRun  `json:"flow_run,omitempty"`
	// Task and TaskRun are set for task hooks.
	Task    *TaskInfo `json:"task,omitempty"`
	TaskRun *TaskRun  `json:"task_run,omitempty"`
	// Tx is set for on_commit and on_rollback hooks.
	Tx *Transaction `json:"tx,omitempty"`
}

func (inv Invocation) flowCall(info CallInfo) (FlowCall, error) {
	if inv.Flow == nil || inv.FlowRun == nil {
		return FlowCall{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: hook %q is a flow hook but was called for a task run", inv.Hook), "flowstate.HookKind", nil)
	}
	return FlowCall{Flow: *inv.Flow, Run: *inv.FlowRun, State: inv.State, Hook: info}, nil
}

func (inv Invocation) taskCall(info CallInfo) (TaskCall, error) {
	if inv.Task == nil || inv.TaskRun == nil {
		return TaskCall{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: hook %q is a task hook but was called for a flow run", inv.Hook), "flowstate.HookKind", nil)
	}
	return TaskCall{Task: *inv.Task, Run: *inv.TaskRun, State: inv.State, Hook: info, Tx: inv.Tx}, nil
}

// ErrUnknownHook is the error, wrapped in an *UnknownHookError, of a call to a hook that is not
// registered on the worker asked to run it.
var ErrUnknownHook = errors.New("flowstate: hook not registered")

// ErrDuplicateHook is the error of registering two different hooks under one name.
var ErrDuplicateHook = errors.New("flowstate: two hooks share a name")

// UnknownHookError reports a hook call for a name the worker does not know.
type UnknownHookError struct {
	// Name is the hook that was asked for.
	Name string
	// Registered lists the hooks the worker knows.
	Registered []string
}

func (e *UnknownHookError) Error() string {
	known := "none"
	if len(e.Registered) > 0 {
		known = strings.Join(e.Registered, ", ")
	}
	return fmt.Sprintf("flowstate: hook %q is not registered on this worker (registered: %s); "+
		"attach it to a flow or task the worker registers, or list it in worker.Options.Hooks", e.Name, known)
}

// Unwrap returns ErrUnknownHook.
func (e *UnknownHookError) Unwrap() error { return ErrUnknownHook }

// IsUnknownHook reports whether err, or an error it wraps, is an unknown-hook error, including
// one that crossed an activity boundary.
func IsUnknownHook(err error) bool {
	if errors.Is(err, ErrUnknownHook) {
		return true
	}
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == UnknownHookErrorType
}

// UnknownHookErrorType is the Temporal application error type of an unknown-hook failure.
const UnknownHookErrorType = "flowstate.UnknownHook"

// Registry holds the hooks a worker can run, by name. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	hooks map[string]*definition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{hooks: map[string]*definition{}}
}

// Register adds hooks to the registry. Registering one hook twice is harmless; registering two
// different hooks under one name is an error wrapping ErrDuplicateHook.
func (r *Registry) Register(defs ...Definition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range defs {
		def := d.definition()
		if def == nil {
			return fmt.Errorf("flowstate: a zero hook value cannot be registered")
		}
		if def.err != nil {
			return def.err
		}
		if old, ok := r.hooks[def.name]; ok && old != def {
			return fmt.Errorf("%w: %q is defined twice; give each hook its own name", ErrDuplicateHook, def.name)
		}
		r.hooks[def.name] = def
	}
	return nil
}

// Has reports whether a hook is registered under name.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.hooks[name]
	return ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.hooks))
	for n := range r.hooks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Invoke runs the hook inv names. attempt is the attempt of this call, from 1. A name the registry
// does not know gives a non-retryable error wrapping an *UnknownHookError.
func (r *Registry) Invoke(ctx context.Context, inv Invocation, attempt int) error {
	r.mu.RLock()
	def, ok := r.hooks[inv.Hook]
	r.mu.RUnlock()
	if !ok {
		unknown := &UnknownHookError{Name: inv.Hook, Registered: r.Names()}
		return temporal.NewNonRetryableApplicationError(unknown.Error(), UnknownHookErrorType, unknown)
	}
	return def.invoke(ctx, inv, CallInfo{Name: inv.Hook, Event: inv.Event, IdempotencyKey: inv.Key, Attempt: attempt})
}
