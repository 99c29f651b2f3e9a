package hooks

import (
	"fmt"
	"time"
)

// StateType is the kind of a flow or task run's state. Terminal types end a run.
type StateType string

// The state types. COMPLETED, FAILED, CANCELLED and CRASHED are terminal.
const (
	Scheduled  StateType = "SCHEDULED"
	Pending    StateType = "PENDING"
	Running    StateType = "RUNNING"
	Paused     StateType = "PAUSED"
	Cancelling StateType = "CANCELLING"
	Completed  StateType = "COMPLETED"
	Failed     StateType = "FAILED"
	Cancelled  StateType = "CANCELLED"
	Crashed    StateType = "CRASHED"
)

// IsTerminal reports whether a run in a state of this type has ended.
func (t StateType) IsTerminal() bool {
	switch t {
	case Completed, Failed, Cancelled, Crashed:
		return true
	}
	return false
}

// Valid reports whether t is one of the declared state types.
func (t StateType) Valid() bool {
	switch t {
	case Scheduled, Pending, Running, Paused, Cancelling, Completed, Failed, Cancelled, Crashed:
		return true
	}
	return false
}

// State names refine state types. A state's name defaults to its type's word.
const (
	NameScheduled     = "Scheduled"     // SCHEDULED: asked for, not started
	NameAwaitingRetry = "AwaitingRetry" // SCHEDULED: an attempt failed, a retry is due after a delay
	NamePending       = "Pending"       // PENDING: about to start (a task waiting for a worker)
	NameRunning       = "Running"       // RUNNING: the first attempt runs
	NameRetrying      = "Retrying"      // RUNNING: a later attempt runs
	NamePaused        = "Paused"        // PAUSED
	NameCompleted     = "Completed"     // COMPLETED: returned without error
	NameFailed        = "Failed"        // FAILED: returned an error, no retry left
	NameTimedOut      = "TimedOut"      // FAILED: ran past its own timeout, no retry left
	NameCancelling    = "Cancelling"    // CANCELLING: cancellation asked for, clean-up runs
	NameCancelled     = "Cancelled"     // CANCELLED: cancellation finished
	NameCrashed       = "Crashed"       // CRASHED: could not finish through the user's code
	// The outcomes of a transaction of task runs (adapter.Transaction).
	NameCommitted  = "Committed"  // COMPLETED: the transaction's function returned nil and its tasks' on_commit hooks ran
	NameRolledBack = "RolledBack" // FAILED: the transaction failed and its tasks' on_rollback hooks ran
)

// DefaultName returns the name a state of type t has when nothing refines it.
func (t StateType) DefaultName() string {
	switch t {
	case Scheduled:
		return NameScheduled
	case Pending:
		return NamePending
	case Running:
		return NameRunning
	case Paused:
		return NamePaused
	case Cancelling:
		return NameCancelling
	case Completed:
		return NameCompleted
	case Failed:
		return NameFailed
	case Cancelled:
		return NameCancelled
	case Crashed:
		return NameCrashed
	}
	return string(t)
}

// State is the state of a flow run or task run at one moment.
//
// Timestamps are workflow time: deterministic, and equal on every replay.
type State struct {
	// Type is the state's kind.
	Type StateType `json:"type"`
	// Name refines Type, for example AwaitingRetry (SCHEDULED) or TimedOut (FAILED).
	Name string `json:"name"`
	// Message is the error text for Failed and Crashed states, and a short explanation otherwise.
	Message string `json:"message,omitempty"`
	// Timestamp is when the run entered the state.
	Timestamp time.Time `json:"timestamp"`
	// Attempt is the attempt the state belongs to, starting at 1 (Prefect's run_count).
	// Zero means the attempt is not known, as for a task retried by the Temporal server
	// without per-attempt hooks.
	Attempt int `json:"attempt,omitempty"`
	// ErrorType is the type of the error that failed or crashed the run.
	ErrorType string `json:"error_type,omitempty"`
	// Details carries extra text: the stack of a panic that crashed the run.
	Details string `json:"details,omitempty"`
}

// NewState returns a state of type t named after it, at the given time.
func NewState(t StateType, at time.Time) State {
	return State{Type: t, Name: t.DefaultName(), Timestamp: at}
}

// Named returns a copy of s with another name.
func (s State) Named(name string) State {
	s.Name = name
	return s
}

// IsTerminal reports whether the state ends its run.
func (s State) IsTerminal() bool { return s.Type.IsTerminal() }

// IsCompleted reports whether s is a COMPLETED state.
func (s State) IsCompleted() bool { return s.Type == Completed }

// IsFailed reports whether s is a FAILED state (TimedOut included).
func (s State) IsFailed() bool { return s.Type == Failed }

// IsCrashed reports whether s is a CRASHED state.
func (s State) IsCrashed() bool { return s.Type == Crashed }

// IsCancelled reports whether s is a CANCELLED state.
func (s State) IsCancelled() bool { return s.Type == Cancelled }

// String returns the state's name, with its message when it has one: Failed("oops!").
func (s State) String() string {
	name := s.Name
	if name == "" {
		name = s.Type.DefaultName()
	}
	if s.Message == "" {
		return name
	}
	return fmt.Sprintf("%s(%q)", name, s.Message)
}
