package hooks

import (
	"encoding/json"
	"fmt"
	"time"
)

// FlowInfo describes a flow definition: what Prefect passes to a hook as `flow`.
type FlowInfo struct {
	// Name is the flow's name, which is also its Temporal workflow type.
	Name string `json:"name"`
	// Tags are the flow's tags.
	Tags []string `json:"tags,omitempty"`
	// Retries is the number of retries the flow declares.
	Retries int `json:"retries,omitempty"`
}

// FlowRun describes one run of a flow: what Prefect passes to a hook as `flow_run`.
type FlowRun struct {
	// ID is the run's Temporal workflow ID.
	ID string `json:"id"`
	// RunID is the Temporal run ID.
	RunID string `json:"run_id"`
	// Name is the run's name: the flow's run-name template applied to the run, or the workflow ID.
	Name string `json:"name"`
	// FlowName is the flow's name.
	FlowName string `json:"flow_name"`
	// Namespace is the Temporal namespace the run is in.
	Namespace string `json:"namespace,omitempty"`
	// TaskQueue is the Temporal task queue the run's workflow is on.
	TaskQueue string `json:"task_queue,omitempty"`
	// Tags are the flow's tags.
	Tags []string `json:"tags,omitempty"`
	// Parameters is the run's input, as JSON.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// ExpectedStartTime is when the run was due to start: its scheduled time when a Temporal
	// schedule started it, else the time it was started.
	ExpectedStartTime time.Time `json:"expected_start_time"`
	// Attempt is the current attempt, starting at 1 (Prefect's run_count).
	Attempt int `json:"attempt"`
	// ParentID is the workflow ID of the parent flow run when this run is a subflow.
	ParentID string `json:"parent_id,omitempty"`
	// Data is what the flow and its tasks attached to the run (adapter.SetRunData), as JSON.
	Data map[string]json.RawMessage `json:"data,omitempty"`
}

// Lookup decodes the data attached under key into ptr. It reports false when nothing is attached
// under key.
func (r FlowRun) Lookup(key string, ptr any) (bool, error) {
	raw, ok := r.Data[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, ptr); err != nil {
		return true, fmt.Errorf("flowstate: run data %q: %w", key, err)
	}
	return true, nil
}

// TaskInfo describes a task definition: what Prefect passes to a task hook as `task`.
type TaskInfo struct {
	// Name is the task's name, which is also its Temporal activity type.
	Name string `json:"name"`
	// Tags are the task's tags.
	Tags []string `json:"tags,omitempty"`
	// Retries is the number of retries the task declares.
	Retries int `json:"retries,omitempty"`
}

// TaskRun describes one call of a task from a flow run: what Prefect passes as `task_run`.
type TaskRun struct {
	// ID identifies the task run within its flow run, for example "fetch#2". It is the
	// Temporal activity ID of the run's attempts.
	ID string `json:"id"`
	// TaskName is the task's name.
	TaskName string `json:"task_name"`
	// FlowRunID is the workflow ID of the flow run that called the task.
	FlowRunID string `json:"flow_run_id"`
	// FlowRunRunID is the Temporal run ID of the flow run that called the task.
	FlowRunRunID string `json:"flow_run_run_id,omitempty"`
	// FlowName is the name of the flow (the workflow type) that called the task.
	FlowName string `json:"flow_name,omitempty"`
	// Namespace is the Temporal namespace of the flow run.
	Namespace string `json:"namespace,omitempty"`
	// Tags are the task's tags.
	Tags []string `json:"tags,omitempty"`
	// Parameters is the task's input, as JSON.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// Attempt is the current attempt, starting at 1. Zero when not known.
	Attempt int `json:"attempt,omitempty"`
	// Result is the task's result, as JSON, when it completed: what on_commit and on_rollback
	// hooks commit or undo.
	Result json.RawMessage `json:"result,omitempty"`
}

// Transaction describes a transaction of task runs (adapter.Transaction), as its on_commit and
// on_rollback hooks see it.
type Transaction struct {
	// ID identifies the transaction within its flow run, for example "book-trip#1"; Name is the
	// name the flow gave it.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Parent is the ID of the transaction this one is nested in, if any.
	Parent string `json:"parent,omitempty"`
	// Data is what the flow and its tasks set on the transaction (adapter.Tx.Set), as JSON.
	Data map[string]json.RawMessage `json:"data,omitempty"`
	// Cause is why the transaction rolls back: the error of the transaction's function or of
	// the task that failed in it, a cancellation, or the run's crash.
	Cause string `json:"cause,omitempty"`
}

// Lookup decodes the transaction's data under key into ptr. It reports false when nothing is set
// under key.
func (t Transaction) Lookup(key string, ptr any) (bool, error) {
	raw, ok := t.Data[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, ptr); err != nil {
		return true, fmt.Errorf("flowstate: transaction data %q: %w", key, err)
	}
	return true, nil
}
