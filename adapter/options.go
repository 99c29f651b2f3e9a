package adapter

import (
	"context"
	"errors"
	"fmt"
	"text/template"
	"time"

	"github.com/flowstate/flowstate/hooks"
)

// FlowOptions configure a flow: Prefect's @flow arguments. The zero value means the defaults.
// The same options attach hooks and retries to a plain Temporal workflow type by name (see
// worker.Options.Workflows).
type FlowOptions struct {
	// Tags label the flow's runs; hooks see them.
	// default: none
	Tags []string
	// Retries is how many times a failed or crashed run is tried again, inside the same workflow
	// execution, however the run was started.
	// default: 0
	Retries int
	// RetryDelay is the wait before each retry, a durable workflow timer.
	// default: none (retry at once)
	RetryDelay RetryDelay
	// RetryJitterFactor stretches each retry delay by a random amount of up to this factor: the
	// wait falls in (delay, delay × (1 + factor)].
	// default: 0
	RetryJitterFactor float64
	// Timeout bounds each attempt of the flow body. An attempt that runs past it is cancelled and
	// ends Failed named TimedOut (retried while retries are left).
	// default: none
	Timeout time.Duration
	// DeadlineGrace is how long before the Temporal server would time the run out (its execution
	// or run timeout, when it was started with one) the run ends itself: Failed named TimedOut,
	// with its on_failure hooks run by its own code, rather than killed by the server (after which
	// only the crash sweeper runs its on_crashed hooks). Negative turns this off.
	// default: a tenth of the timeout, at least 5 seconds (time for the on_failure hooks) but at
	// most half the timeout, and at most 1 minute
	DeadlineGrace time.Duration
	// RunName is a text/template for the run's name, executed with the run's parameters as
	// .Params (the decoded JSON input), .FlowName, .ID and .RunID. Prefect's flow_run_name.
	// default: the workflow ID
	RunName string

	// OnRunning hooks run, in order, before the body on every attempt.
	OnRunning []hooks.FlowHook
	// OnCompletion hooks run when the run completes.
	OnCompletion []hooks.FlowHook
	// OnFailure hooks run when the run fails after its last retry (TimedOut included).
	OnFailure []hooks.FlowHook
	// OnCancellation hooks run when cancellation of the run is asked for, before its tasks
	// are cancelled.
	OnCancellation []hooks.FlowHook
	// OnCrashed hooks run when the run crashes: a panic, a task whose worker died, or a
	// workflow that was terminated or timed out on the server.
	OnCrashed []hooks.FlowHook
}

// TaskOptions configure a task: Prefect's @task arguments. The zero value means the defaults.
// The same options attach hooks and retries to a plain Temporal activity type by name (see
// worker.Options.Activities).
type TaskOptions struct {
	// Tags label the task's runs; hooks see them.
	// default: none
	Tags []string
	// Retries is how many times a failed or crashed task attempt is tried again. The budget starts
	// afresh in each flow attempt.
	// default: 0
	Retries int
	// RetryDelay is the wait before each retry.
	// default: none (retry at once)
	RetryDelay RetryDelay
	// RetryJitterFactor stretches each retry delay by a random amount of up to this factor: the
	// wait falls in (delay, delay × (1 + factor)].
	// default: 0
	RetryJitterFactor float64
	// RetryCondition decides, after a failed attempt with retries left, whether to retry. It runs
	// in the task's worker, with the failed state and the error the task returned. A condition
	// that returns an error means no retry; the error is logged.
	// default: retry every failure that is not a non-retryable Temporal application error
	RetryCondition func(ctx context.Context, state hooks.State, err error) (bool, error)
	// Timeout bounds each attempt (the activity's start-to-close timeout). An attempt that runs
	// past it ends Failed named TimedOut (retried while retries are left).
	// default: none
	Timeout time.Duration
	// HeartbeatTimeout is how soon a task whose worker died is noticed: the attempt ends Crashed.
	// flowstate heartbeats for the task; task code needs no heartbeat calls.
	// default: 10 seconds
	HeartbeatTimeout time.Duration
	// TaskQueue is the task queue the task runs on.
	// default: the flow's task queue
	TaskQueue string

	// OnRunning hooks run, in order, before the body on every attempt.
	OnRunning []hooks.TaskHook
	// OnCompletion hooks run when the task run completes.
	OnCompletion []hooks.TaskHook
	// OnFailure hooks run when the task run fails after its last retry (TimedOut included).
	OnFailure []hooks.TaskHook
	// OnCancellation hooks run when the task run is being cancelled with its flow.
	OnCancellation []hooks.TaskHook
	// OnCrashed hooks run when the task run crashes: a panic, or its worker died.
	OnCrashed []hooks.TaskHook

	// OnCommit hooks run when the transaction the task run completed in commits (see
	// Transaction), in the order the transaction's tasks completed.
	OnCommit []hooks.TaskHook
	// OnRollback hooks undo what the task run did when the transaction it completed in rolls
	// back: its function failed, a task in it failed, the run was cancelled in it, or the run was
	// terminated or timed out on the server. They run in the reverse order of completion. A task
	// with OnRollback hooks that completes outside any transaction has nothing to roll back with:
	// the worker logs it once.
	OnRollback []hooks.TaskHook
}

// DefaultTaskHeartbeatTimeout is the heartbeat timeout of a task that sets none.
const DefaultTaskHeartbeatTimeout = 10 * time.Second

// ErrInvalidOptions is wrapped by every error about a flow's or task's options.
var ErrInvalidOptions = errors.New("flowstate: invalid options")

// Hooks returns the hooks attached to event e.
func (o FlowOptions) Hooks(e hooks.Event) []hooks.FlowHook {
	switch e {
	case hooks.OnRunning:
		return o.OnRunning
	case hooks.OnCompletion:
		return o.OnCompletion
	case hooks.OnFailure:
		return o.OnFailure
	case hooks.OnCancellation:
		return o.OnCancellation
	case hooks.OnCrashed:
		return o.OnCrashed
	}
	return nil
}

// HasHooks reports whether any hook is attached.
func (o FlowOptions) HasHooks() bool {
	for _, e := range hooks.Events {
		if len(o.Hooks(e)) > 0 {
			return true
		}
	}
	return false
}

// Hooks returns the hooks attached to event e.
func (o TaskOptions) Hooks(e hooks.Event) []hooks.TaskHook {
	switch e {
	case hooks.OnCommit:
		return o.OnCommit
	case hooks.OnRollback:
		return o.OnRollback
	case hooks.OnRunning:
		return o.OnRunning
	case hooks.OnCompletion:
		return o.OnCompletion
	case hooks.OnFailure:
		return o.OnFailure
	case hooks.OnCancellation:
		return o.OnCancellation
	case hooks.OnCrashed:
		return o.OnCrashed
	}
	return nil
}

// HasHooks reports whether any hook is attached.
func (o TaskOptions) HasHooks() bool {
	for _, e := range hooks.TaskEvents {
		if len(o.Hooks(e)) > 0 {
			return true
		}
	}
	return false
}

// Validate reports the first problem with the options, wrapping ErrInvalidOptions.
func (o FlowOptions) Validate() error {
	if err := validateRetries(o.Retries, o.RetryDelay, o.RetryJitterFactor); err != nil {
		return err
	}
	if o.Timeout < 0 {
		return fmt.Errorf("%w: timeout must not be negative, got %s", ErrInvalidOptions, o.Timeout)
	}
	if o.RunName != "" {
		if _, err := template.New("run-name").Option("missingkey=error").Parse(o.RunName); err != nil {
			return fmt.Errorf("%w: run name template: %v", ErrInvalidOptions, err)
		}
	}
	for _, e := range hooks.Events {
		for _, h := range o.Hooks(e) {
			if err := h.Err(); err != nil {
				return fmt.Errorf("%w: %s hook: %w", ErrInvalidOptions, e, err)
			}
		}
	}
	return nil
}

// Validate reports the first problem with the options, wrapping ErrInvalidOptions.
func (o TaskOptions) Validate() error {
	if err := validateRetries(o.Retries, o.RetryDelay, o.RetryJitterFactor); err != nil {
		return err
	}
	if o.Timeout < 0 {
		return fmt.Errorf("%w: timeout must not be negative, got %s", ErrInvalidOptions, o.Timeout)
	}
	if o.HeartbeatTimeout < 0 {
		return fmt.Errorf("%w: heartbeat timeout must not be negative, got %s", ErrInvalidOptions, o.HeartbeatTimeout)
	}
	for _, e := range hooks.TaskEvents {
		for _, h := range o.Hooks(e) {
			if err := h.Err(); err != nil {
				return fmt.Errorf("%w: %s hook: %w", ErrInvalidOptions, e, err)
			}
		}
	}
	return nil
}

func validateRetries(retries int, delay RetryDelay, jitter float64) error {
	if retries < 0 {
		return fmt.Errorf("%w: retries must not be negative, got %d", ErrInvalidOptions, retries)
	}
	if delay != nil {
		if err := delay.validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidOptions, err)
		}
	}
	if jitter < 0 {
		return fmt.Errorf("%w: retry jitter factor must not be negative, got %g", ErrInvalidOptions, jitter)
	}
	return nil
}

// RetryWait returns the wait before the given retry (1 for the first) under these options, with
// u in [0, 1) choosing the jitter.
func (o FlowOptions) RetryWait(retry int, u float64) time.Duration {
	return retryWait(o.RetryDelay, o.RetryJitterFactor, retry, u)
}

// RetryWait returns the wait before the given retry (1 for the first) under these options, with
// u in [0, 1) choosing the jitter.
func (o TaskOptions) RetryWait(retry int, u float64) time.Duration {
	return retryWait(o.RetryDelay, o.RetryJitterFactor, retry, u)
}

func retryWait(delay RetryDelay, jitter float64, retry int, u float64) time.Duration {
	if delay == nil {
		return 0
	}
	return JitteredDelay(delay.Delay(retry), jitter, u)
}
