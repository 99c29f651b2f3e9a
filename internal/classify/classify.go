// Package classify maps the outcome of a flow, task or subflow attempt (an error or nil) onto the
// flowstate state model.
package classify

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// Outcome is what an attempt's error means.
type Outcome struct {
	// State is the state the attempt ended in (Completed, Failed, TimedOut, Crashed or Cancelled).
	State hooks.State
	// Retryable reports whether a retry may follow, retries permitting.
	Retryable bool
}

// Attempt classifies the error an attempt ended with, at workflow time now.
func Attempt(err error, now time.Time, attempt int) Outcome {
	st := hooks.NewState(hooks.Completed, now)
	st.Attempt = attempt
	if err == nil {
		return Outcome{State: st}
	}
	st.Message = Message(err)
	st.ErrorType = errorType(err)

	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		st.Type, st.Name = hooks.Cancelled, hooks.NameCancelled
		return Outcome{State: st}
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		switch timeout.TimeoutType() {
		case enumspb.TIMEOUT_TYPE_HEARTBEAT:
			st.Type, st.Name = hooks.Crashed, hooks.NameCrashed
			st.Message = "worker lost: no heartbeat within the heartbeat timeout"
			st.ErrorType = "HeartbeatTimeout"
			return Outcome{State: st, Retryable: true}
		default:
			st.Type, st.Name = hooks.Failed, hooks.NameTimedOut
			st.ErrorType = "TimeoutError"
			st.Message = fmt.Sprintf("timed out (%s)", timeoutName(timeout.TimeoutType()))
			return Outcome{State: st, Retryable: true}
		}
	}
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) {
		st.Type, st.Name = hooks.Crashed, hooks.NameCrashed
		st.Message = "terminated"
		return Outcome{State: st}
	}
	var panicErr *temporal.PanicError
	if errors.As(err, &panicErr) {
		st.Type, st.Name = hooks.Crashed, hooks.NameCrashed
		st.Message = "panic: " + panicErr.Error()
		st.Details = panicErr.StackTrace()
		st.ErrorType = "PanicError"
		return Outcome{State: st, Retryable: true}
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case names.ErrTypePanic, "PanicError":
			st.Type, st.Name = hooks.Crashed, hooks.NameCrashed
			var stack string
			if app.HasDetails() {
				_ = app.Details(&stack)
			}
			st.Details = stack
			return Outcome{State: st, Retryable: !app.NonRetryable()}
		case names.ErrTypeCrashed:
			st.Type, st.Name = hooks.Crashed, hooks.NameCrashed
			return Outcome{State: st, Retryable: !app.NonRetryable()}
		case names.ErrTypeTimedOut:
			st.Type, st.Name = hooks.Failed, hooks.NameTimedOut
			return Outcome{State: st, Retryable: !app.NonRetryable()}
		}
		st.Type, st.Name = hooks.Failed, hooks.NameFailed
		return Outcome{State: st, Retryable: !app.NonRetryable()}
	}
	st.Type, st.Name = hooks.Failed, hooks.NameFailed
	return Outcome{State: st, Retryable: true}
}

// Message returns the text of the innermost error that explains err, without the wrapping
// Temporal adds ("activity error (type: …)").
func Message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return app.Message()
	}
	var panicErr *temporal.PanicError
	if errors.As(err, &panicErr) {
		return panicErr.Error()
	}
	var act *temporal.ActivityError
	var child *temporal.ChildWorkflowExecutionError
	if errors.As(err, &act) || errors.As(err, &child) {
		if inner := errors.Unwrap(err); inner != nil {
			return Message(inner)
		}
	}
	return err.Error()
}

func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "CanceledError"
	}
	return fmt.Sprintf("%T", err)
}

func timeoutName(t enumspb.TimeoutType) string {
	switch t {
	case enumspb.TIMEOUT_TYPE_START_TO_CLOSE:
		return "start-to-close"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
		return "schedule-to-close"
	case enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START:
		return "schedule-to-start"
	case enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "heartbeat"
	}
	return t.String()
}
