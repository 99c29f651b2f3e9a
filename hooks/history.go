package hooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind tells what a history entry is about.
type Kind string

// The kinds of runs a history records.
const (
	KindFlow    Kind = "flow"    // the flow run itself
	KindTask    Kind = "task"    // a task run of the flow
	KindSubflow Kind = "subflow" // a child flow run, as its parent sees it
	// KindTransaction entries record a transaction of task runs (adapter.Transaction): Running
	// when it begins, then Committed or RolledBack.
	KindTransaction Kind = "transaction"
)

// HookStatus is how a hook call ended.
type HookStatus string

// Hook call outcomes.
const (
	HookCompleted HookStatus = "completed" // the hook returned nil, possibly after retries
	HookFailed    HookStatus = "failed"    // the hook still failed after its retries; the run's state is unchanged
)

// HookResult records one hook call in a run's history.
type HookResult struct {
	// Hook is the hook's registered name.
	Hook string `json:"hook"`
	// Event is the event the hook was attached to.
	Event Event `json:"event"`
	// Status is how the call ended.
	Status HookStatus `json:"status"`
	// Error is the last error of a failed call.
	Error string `json:"error,omitempty"`
	// Key is the call's idempotency key (see CallInfo.IdempotencyKey).
	Key string `json:"key"`
}

// Entry is one line of a run's history: a state transition of the flow or of one of its task
// runs, or the outcome of a hook call. Exactly one of State and Hook is set.
type Entry struct {
	// Seq numbers the entries of one history from 1, in the order they happened.
	Seq int `json:"seq"`
	// Kind tells whether the entry is about the flow run, a task run or a subflow run.
	Kind Kind `json:"kind"`
	// Run identifies the run: the flow run's workflow ID, a task run ID, or a subflow's workflow ID.
	Run string `json:"run"`
	// Name is the flow's or task's name.
	Name string `json:"name"`
	// State is the state the run entered.
	State *State `json:"state,omitempty"`
	// Hook is the outcome of a hook call, recorded at Time.
	Hook *HookResult `json:"hook,omitempty"`
	// Time is when a hook call ended (workflow time); zero for a state, whose own Timestamp says
	// when it was entered. Use At for either.
	Time time.Time `json:"time,omitzero"`
}

// At returns when the entry happened: its state's timestamp, or when its hook call ended.
func (e Entry) At() time.Time {
	if e.State != nil {
		return e.State.Timestamp
	}
	return e.Time
}

// History is the state history of one flow run: every transition of the flow and of its task
// runs, in order, with the outcomes of their hooks. It is what the flowstate query returns while
// the run is open (and after it closed, with a worker up) and what the run's memo holds after it
// closed.
//
// A history can be a part of a longer one: a page of the query (Next tells where the next page
// starts), a closed run's memo bounded in size (Omitted counts what it leaves out), or one run of
// a chain of runs that continued as new (Previous names the run before). adapter.ReadHistory puts
// the parts together.
type History struct {
	// Flow is the flow's name.
	Flow string `json:"flow"`
	// WorkflowID and RunID identify the flow run.
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// State is the flow run's current state.
	State State `json:"state"`
	// Data is what the run has attached (see FlowRun.Data).
	Data map[string]json.RawMessage `json:"data,omitempty"`
	// Entries are the transitions and hook outcomes, oldest first.
	Entries []Entry `json:"entries"`
	// Total is the number of entries the run has: Entries holds them all unless Next or Omitted
	// says otherwise.
	Total int `json:"total,omitempty"`
	// Next, when not zero, is the Seq of the last entry of this page: ask the query for the page
	// after it (PageRequest{After: Next}).
	Next int `json:"next,omitempty"`
	// Omitted counts entries left out of a closed run's memo, which is bounded in size; Summary
	// counts them by kind and state. Read them all with adapter.ReadHistory.
	Omitted int `json:"omitted,omitempty"`
	// Summary counts the entries Omitted leaves out, by kind and state name ("task Completed").
	Summary map[string]int `json:"summary,omitempty"`
	// Dropped counts entries a flowstate v0.1 memo left out.
	Dropped int `json:"dropped,omitempty"`
	// Previous is the run ID of the run this one continued as new from; FirstRunID is the chain's
	// first run. Both are empty for a run that did not continue another.
	Previous   string `json:"previous,omitempty"`
	FirstRunID string `json:"first_run_id,omitempty"`
	// Runs lists the runs of a chain that ReadHistory put together, oldest first.
	Runs []string `json:"runs,omitempty"`
}

// PageRequest asks the flowstate query for a page of a run's state history:
// `temporal workflow query --type flowstate.states --input '{"after": 5000}'`.
type PageRequest struct {
	// After is the Seq of the last entry already read; the page starts after it.
	After int `json:"after,omitempty"`
	// Limit bounds the entries of the page.
	// default: as many as fit in about 1 MiB
	Limit int `json:"limit,omitempty"`
}

// States returns the states the run identified by run went through, in order.
func (h History) States(run string) []State {
	var out []State
	for _, e := range h.Entries {
		if e.Run == run && e.State != nil {
			out = append(out, *e.State)
		}
	}
	return out
}

// FlowStates returns the states of the flow run itself, in order.
func (h History) FlowStates() []State { return h.States(h.WorkflowID) }

// StateNames returns the names of the states the run went through, in order.
func (h History) StateNames(run string) []string {
	var names []string
	for _, s := range h.States(run) {
		names = append(names, s.Name)
	}
	return names
}

// Hooks returns the outcomes of every hook call, in order.
func (h History) Hooks() []HookResult {
	var out []HookResult
	for _, e := range h.Entries {
		if e.Hook != nil {
			out = append(out, *e.Hook)
		}
	}
	return out
}

// TaskRuns returns the IDs of the task runs in the history, in the order they first appear.
func (h History) TaskRuns() []string {
	seen := map[string]bool{}
	var ids []string
	for _, e := range h.Entries {
		if e.Kind == KindTask && !seen[e.Run] {
			seen[e.Run] = true
			ids = append(ids, e.Run)
		}
	}
	return ids
}

// Timeline renders the history as text, one entry a line, for people to read.
func (h History) Timeline() string {
	var b strings.Builder
	var start time.Time
	if len(h.Entries) > 0 {
		start = h.Entries[0].At()
	}
	for _, e := range h.Entries {
		offset := e.At().Sub(start).Round(time.Millisecond)
		who := string(e.Kind)
		if e.Kind == KindFlow {
			who += " " + e.Name
		} else {
			who += " " + e.Run
		}
		switch {
		case e.State != nil:
			line := e.State.String()
			if e.State.Attempt > 1 {
				line += fmt.Sprintf(" attempt %d", e.State.Attempt)
			}
			fmt.Fprintf(&b, "%8s  %-28s %s\n", "+"+offset.String(), who, line)
		case e.Hook != nil:
			line := fmt.Sprintf("hook %s %s: %s", e.Hook.Event, e.Hook.Hook, e.Hook.Status)
			if e.Hook.Error != "" {
				line += ": " + e.Hook.Error
			}
			fmt.Fprintf(&b, "%8s  %-28s %s\n", "+"+offset.String(), who, line)
		}
	}
	if more := h.Dropped + h.Omitted; more > 0 {
		fmt.Fprintf(&b, "(%d more entries: read them with adapter.ReadHistory or flowstate states)\n", more)
	}
	if h.Next > 0 {
		fmt.Fprintf(&b, "(more entries after #%d: query the run with {\"after\": %d})\n", h.Next, h.Next)
	}
	return b.String()
}
