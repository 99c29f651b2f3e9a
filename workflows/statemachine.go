package workflows

import (
	"fmt"

	"github.com/flowstate/flowstate/hooks"
)

// The flowstate state machine, for flow runs and task runs alike:
//
//	(none) ──► Scheduled ──► Pending ──► Running ──► Completed | Failed | TimedOut | Crashed
//	                │           │          │  ▲
//	                │           │          ▼  │
//	                │           │     AwaitingRetry (SCHEDULED, no hooks)
//	                ▼           ▼          ▼
//	          (any non-terminal state) ──► Cancelling ──► Cancelled
//
// Running is named Retrying from the second attempt on. A task retried by the Temporal server
// (no on_running hooks) goes from Pending straight to its terminal state. Any non-terminal state
// may end Crashed or Failed (a run whose input is invalid fails before it runs; a subflow that
// could not start fails without running). Terminal states are final.
var transitions = map[hooks.StateType][]hooks.StateType{
	"":               {hooks.Scheduled, hooks.Pending, hooks.Running, hooks.Failed}, // Failed: a subflow that could not start
	hooks.Scheduled:  {hooks.Pending, hooks.Running, hooks.Cancelling, hooks.Cancelled, hooks.Failed, hooks.Crashed},
	hooks.Pending:    {hooks.Running, hooks.Cancelling, hooks.Cancelled, hooks.Completed, hooks.Failed, hooks.Crashed},
	hooks.Running:    {hooks.Scheduled, hooks.Paused, hooks.Cancelling, hooks.Completed, hooks.Failed, hooks.Crashed},
	hooks.Paused:     {hooks.Running, hooks.Cancelling, hooks.Failed, hooks.Crashed},
	hooks.Cancelling: {hooks.Cancelled, hooks.Completed, hooks.Failed, hooks.Crashed},
}

// CheckTransition reports whether a run may go from state from to state to; an error describes a
// transition the state machine does not allow. A zero from means the run has no state yet.
func CheckTransition(from, to hooks.State) error {
	if !to.Type.Valid() {
		return fmt.Errorf("unknown state type %q", to.Type)
	}
	if to.Type == hooks.Scheduled && from.Type == hooks.Running && to.Name != hooks.NameAwaitingRetry {
		return fmt.Errorf("a running run goes back to SCHEDULED only as AwaitingRetry, not %s", to.Name)
	}
	for _, next := range transitions[from.Type] {
		if next == to.Type {
			return nil
		}
	}
	if from.Type.IsTerminal() {
		return fmt.Errorf("%s is terminal; it cannot become %s", from.Name, to.Name)
	}
	return fmt.Errorf("%s cannot become %s", from.Name, to.Name)
}
