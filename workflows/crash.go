package workflows

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// When a flow's workflow is terminated or times out on the server, no workflow code of that run
// runs again, so its on_crashed hooks cannot be run from it. The sweeper (sweeper.go) finds such
// runs and starts, for each, a crash-handler workflow whose ID is derived from the dead run
// (CrashHandlerID), which Temporal accepts once: the hooks of one dead run are started once,
// however many times the run is seen. The crash handler reads what the dead run left (its plan,
// input, data and state history, through a query), enters Crashed and runs the on_crashed hooks of
// the run's plan as activities, with the same idempotency keys the run itself would have used, and
// keeps the outcome in its memo.
//
// Not every run the server closes crashed: a run that `temporal workflow reset` terminated goes on
// in the new run, and a run that timed out while the workflow's retry policy starts another is not
// final. Their crash handlers end without running hooks (CrashInfo.Skip).
//
// The crash handler's ID may be used again when its previous run did not complete (it was
// terminated, say), so that a later scan finishes what it started; its hooks then run again with
// the same idempotency keys.

// Names of the crash handler's workflow and activity types.
const (
	CrashHandlerWorkflow = "flowstate.crashed"
	CrashInfoActivity    = "flowstate.crash-info"
)

// CrashHandlerID returns the workflow ID of the crash handler of one dead flow run.
func CrashHandlerID(workflowID, runID string) string { return names.CrashHandlerID(workflowID, runID) }

// CrashedRun identifies a flow run that ended outside its own code.
type CrashedRun struct {
	WorkflowID   string    `json:"workflow_id"`
	RunID        string    `json:"run_id"`
	WorkflowType string    `json:"workflow_type"`
	TaskQueue    string    `json:"task_queue"`
	Status       string    `json:"status"` // "Terminated" or "TimedOut"
	CloseTime    time.Time `json:"close_time"`
}

// CrashInfo is what the crash-info activity recovers of a dead run.
type CrashInfo struct {
	// Run describes the run as its hooks see it. Name is filled by the handler from the flow's
	// run-name template when the run left none.
	Run hooks.FlowRun `json:"run"`
	// Reason explains the crash: the termination reason, or the timeout that struck.
	Reason string `json:"reason"`
	// History is the run's state history as of its last workflow task, when a query could read it.
	History *hooks.History `json:"history,omitempty"`
	// Plan is the run's flow plan: the one it recorded (read through a query), or, for a run
	// that never ran a workflow task, the one the definitions of the worker that read it give.
	Plan json.RawMessage `json:"plan,omitempty"`
	// Input is the run's input as the server keeps it (encoded by the starter's data converter),
	// for a run whose state could not be queried; DataFields likewise are its memo's data fields.
	Input      *commonpb.Payload            `json:"input,omitempty"`
	DataFields map[string]*commonpb.Payload `json:"data_fields,omitempty"`
	// Skip, when set, says why the run did not crash although the server closed it: it was
	// reset, or the workflow's retry policy started another run. No hook runs then.
	Skip string `json:"skip,omitempty"`
	// Transactions are the transactions the run left open, which the handler rolls back.
	Transactions []OpenTx `json:"transactions,omitempty"`
}

// CrashView is what a flow run tells its crash handler through the QueryCrash query, answered by
// a worker replaying the dead run: its plan, its run as hooks see it, and the first page of its
// state history.
type CrashView struct {
	Plan    json.RawMessage `json:"plan"`
	Run     hooks.FlowRun   `json:"run"`
	History hooks.History   `json:"history"`
	// Transactions are the run's open transactions, which the crash handler rolls back.
	Transactions []OpenTx `json:"transactions,omitempty"`
}

// QueryCrash is the query a crash handler reads a dead flow run with (CrashView).
const QueryCrash = "flowstate.crash"

// PlanFor returns, as JSON, the plan a new run of the flow type would have with this worker's
// definitions, for the crash handler of a run that never ran a workflow task; ok is false when
// the worker does not know the type.
func (i *Interceptor) PlanFor(flowType string, stateAtStart bool) (json.RawMessage, bool) {
	spec, ok := i.opts.Flows[flowType]
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(i.pl.flowPlan(spec.Options, !stateAtStart, false))
	return raw, err == nil
}

// CrashHandler returns the crash-handler workflow for one dead run: it enters Crashed and runs the
// on_crashed hooks of the run's plan, returning the state history with their outcomes. It needs
// nothing of the flow's definition: the crash-info activity reads the plan the dead run recorded.
func (i *Interceptor) CrashHandler(ctx workflow.Context, dead CrashedRun) (hooks.History, error) {
	// Reading what the run left only reads: retry it until the server and a worker answer,
	// rather than give up on the hooks.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		Summary:             "read what " + dead.WorkflowID + " left",
	})
	var info CrashInfo
	if err := workflow.ExecuteActivity(actx, CrashInfoActivity, dead).Get(ctx, &info); err != nil {
		return hooks.History{}, err
	}
	run := info.Run
	if info.Input != nil && len(run.Parameters) == 0 {
		var raw converter.RawValue
		if decodePayload(ctx, info.Input, &raw) && string(raw.Payload().GetMetadata()[converter.MetadataEncoding]) == converter.MetadataEncodingJSON {
			run.Parameters = raw.Payload().GetData()
		}
	}
	for _, key := range slices.Sorted(maps.Keys(info.DataFields)) {
		var v json.RawMessage
		if !decodePayload(ctx, info.DataFields[key], &v) {
			continue
		}
		if run.Data == nil {
			run.Data = map[string]json.RawMessage{}
		}
		if key == names.MemoData { // flowstate v0.1 kept all the data in one field
			var all map[string]json.RawMessage
			if json.Unmarshal(v, &all) == nil {
				for k, d := range all {
					run.Data[k] = d
				}
			}
			continue
		}
		run.Data[strings.TrimPrefix(key, names.MemoDataPrefix)] = v
	}
	var plan flowPlan
	if len(info.Plan) > 0 {
		if err := json.Unmarshal(info.Plan, &plan); err != nil {
			return hooks.History{}, fmt.Errorf("flowstate: decoding the plan of %s: %w", dead.WorkflowID, err)
		}
	}
	rec := recorder{history: hooks.History{Flow: dead.WorkflowType, WorkflowID: dead.WorkflowID, RunID: dead.RunID}, tracer: i.opts.Tracer}
	if info.History != nil {
		rec.history = *info.History
		rec.history.Next = 0
		if len(rec.history.Entries) > 0 {
			rec.seqBase = rec.history.Entries[0].Seq - 1
		}
	}
	rec.history.Data = run.Data
	if rec.history.State.Type == "" {
		// The run never ran a workflow task: its history starts here.
		rec.flowEntry(ctx, dead.WorkflowID, dead.WorkflowType, hooks.NewState(hooks.Scheduled, run.ExpectedStartTime))
	}
	if info.Skip != "" {
		workflow.GetLogger(ctx).Info("flowstate: the flow run did not crash; no on_crashed hook runs",
			"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "reason", info.Skip)
		return rec.closeHandler(ctx), nil
	}
	run.FlowName = dead.WorkflowType
	if run.Name == "" {
		run.Name = run.ID
	}
	st := hooks.NewState(hooks.Crashed, dead.CloseTime)
	st.Message, st.ErrorType, st.Attempt = info.Reason, dead.Status, max(run.Attempt, 1)
	if rec.history.State.IsTerminal() {
		workflow.GetLogger(ctx).Info("flowstate: the flow run had ended before the server closed it; no on_crashed hook runs",
			"workflow_id", dead.WorkflowID, "state", rec.history.State.Name)
		return rec.closeHandler(ctx), nil
	}
	// The transactions the run left open roll back first, as they would have in the run.
	i.rollbackDead(ctx, &rec, dead, info.Transactions, "the flow run "+strings.ToLower(dead.Status)+": "+info.Reason)
	rec.flowEntry(ctx, dead.WorkflowID, dead.WorkflowType, st)

	flow := hooks.FlowInfo{Name: dead.WorkflowType, Tags: run.Tags, Retries: plan.Retry.Retries}
	for idx, spec := range plan.Hooks[hooks.OnCrashed] {
		inv := hooks.Invocation{
			Hook: spec.Name, Event: hooks.OnCrashed, Args: spec.Args, State: st,
			Key:  hookKey(dead.WorkflowID, dead.RunID, "flow", hooks.OnCrashed, st.Attempt, idx),
			Flow: &flow, FlowRun: &run,
		}
		err := i.callHook(ctx, spec, inv, dead.TaskQueue)
		rec.hookEntry(ctx, hooks.KindFlow, dead.WorkflowID, dead.WorkflowType, inv, err)
	}
	return rec.closeHandler(ctx), nil
}

// closeHandler keeps the dead run's history in the crash handler's memo and returns it.
func (r *recorder) closeHandler(ctx workflow.Context) hooks.History {
	if err := workflow.UpsertMemo(ctx, r.memoFields()); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: writing the crash handler's memo failed", "error", err)
	}
	return r.snapshot()
}
