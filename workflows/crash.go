package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// When a flow's workflow is terminated or times out on the server, no workflow code of that run
// runs again, so its on_crashed hooks cannot be run from it. The sweeper does it from outside:
//
//   - one sweeper workflow per task queue (SweeperWorkflowID), started by the worker, runs one
//     long activity that scans the visibility store for closed runs of the queue's flows with
//     status Terminated or TimedOut, keeping its position in its heartbeat so that a new worker
//     resumes where a dead one stopped;
//   - for each such run it starts a crash-handler workflow whose ID is derived from the dead run
//     (CrashHandlerID), which Temporal accepts once: the hooks of one dead run are started once,
//     however many times the run is seen;
//   - the crash handler reads what the dead run left (its input, memo data and, through a query,
//     its state history), enters Crashed and runs the flow's on_crashed hooks as activities, with
//     the same idempotency keys the run itself would have used, and keeps the outcome in its memo.
//
// Not every run the server closes crashed: a run that `temporal workflow reset` terminated goes on
// in the new run, and a run that timed out while the workflow's retry policy starts another is not
// final. Their crash handlers end without running hooks (CrashInfo.Skip).
//
// The sweep activity heartbeats every third of SweepHeartbeatTimeout, whatever the scan interval,
// and is retried a second after it stops, so that a sweeper whose worker died resumes on another
// worker within seconds. The crash handler's ID may be used again when its previous run did not
// complete (it was terminated, say), so that a later scan finishes what it started; its hooks
// then run again with the same idempotency keys.

// Names of the sweeper's workflow and activity types.
const (
	SweeperWorkflow      = "flowstate.sweeper"
	CrashHandlerWorkflow = "flowstate.crashed"
	SweepActivity        = "flowstate.sweep"
	CrashInfoActivity    = "flowstate.crash-info"
)

// SweepHeartbeatTimeout is the heartbeat timeout of the sweep activity: how long a sweeper whose
// worker died waits before it resumes on another worker.
const SweepHeartbeatTimeout = 5 * time.Second

// SweeperWorkflowID returns the workflow ID of the sweeper of a task queue.
func SweeperWorkflowID(taskQueue string) string { return "flowstate-sweeper/" + taskQueue }

// CrashHandlerID returns the workflow ID of the crash handler of one dead flow run.
func CrashHandlerID(workflowID, runID string) string { return names.CrashHandlerID(workflowID, runID) }

// SweepInput configures the sweeper's scan.
type SweepInput struct {
	// TaskQueue is the queue whose flows are watched.
	TaskQueue string `json:"task_queue"`
	// Since is where the scan starts: runs closed before it are not looked at.
	Since time.Time `json:"since"`
	// Interval is the pause between two scans.
	Interval time.Duration `json:"interval"`
}

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
	// Run describes the run as its hooks see it; Name is filled by the handler from the flow's
	// run-name template.
	Run hooks.FlowRun `json:"run"`
	// Reason explains the crash: the termination reason, or the timeout that struck.
	Reason string `json:"reason"`
	// History is the run's state history as of its last workflow task, when a query could read it.
	History *hooks.History `json:"history,omitempty"`
	// Skip, when set, says why the run did not crash although the server closed it: it was
	// reset, or the workflow's retry policy started another run. No hook runs then.
	Skip string `json:"skip,omitempty"`
}

// Sweeper returns the sweeper workflow: it runs the sweep activity until it is cancelled. The
// activity heartbeats its position and is retried without limit, so the scan outlives workers.
func (i *Interceptor) Sweeper(ctx workflow.Context, in SweepInput) error {
	// The activity only stops when its worker does (or its heartbeat fails): retry it at once,
	// without backing off, however often that happened before.
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 100 * 365 * 24 * time.Hour,
		HeartbeatTimeout:    SweepHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: time.Second},
		Summary:             "scan for terminated and timed-out flow runs",
	})
	return workflow.ExecuteActivity(ctx, SweepActivity, in).Get(ctx, nil)
}

// CrashHandler returns the crash-handler workflow for one dead run: it enters Crashed and runs the
// flow's on_crashed hooks, returning the state history with their outcomes.
func (i *Interceptor) CrashHandler(ctx workflow.Context, dead CrashedRun) (hooks.History, error) {
	spec, ok := i.opts.Flows[dead.WorkflowType]
	if !ok {
		return hooks.History{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flowstate: %q is not a flow on this worker", dead.WorkflowType), "flowstate.UnknownFlow", nil)
	}
	// Reading what the run left only reads: retry it until the server answers, rather than give
	// up on the hooks.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	var info CrashInfo
	if err := workflow.ExecuteActivity(actx, CrashInfoActivity, dead).Get(ctx, &info); err != nil {
		return hooks.History{}, err
	}
	if info.Skip != "" {
		workflow.GetLogger(ctx).Info("flowstate: the flow run did not crash; no on_crashed hook runs",
			"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "reason", info.Skip)
		rec := recorder{history: hooks.History{Flow: dead.WorkflowType, WorkflowID: dead.WorkflowID, RunID: dead.RunID, Data: info.Run.Data}}
		if info.History != nil {
			rec.history = *info.History
		}
		if err := workflow.UpsertMemo(ctx, map[string]any{names.MemoHistory: rec.memo()}); err != nil {
			workflow.GetLogger(ctx).Error("flowstate: writing the crash handler's memo failed", "error", err)
		}
		return rec.snapshot(), nil
	}
	run := info.Run
	run.FlowName, run.Tags = dead.WorkflowType, spec.Options.Tags
	run.Name = runName(spec.Options, run)

	h := hooks.History{Flow: dead.WorkflowType, WorkflowID: dead.WorkflowID, RunID: dead.RunID, Data: run.Data}
	if info.History != nil {
		h = *info.History
	}
	rec := recorder{history: h}
	st := hooks.NewState(hooks.Crashed, dead.CloseTime)
	st.Message, st.ErrorType, st.Attempt = info.Reason, dead.Status, run.Attempt
	rec.flowEntry(ctx, dead.WorkflowID, dead.WorkflowType, st)

	flow := hooks.FlowInfo{Name: dead.WorkflowType, Tags: spec.Options.Tags, Retries: spec.Options.Retries}
	for idx, hk := range spec.Options.OnCrashed {
		inv := hooks.Invocation{
			Hook: hk.Name(), Event: hooks.OnCrashed, Args: hk.Args(), State: st,
			Key:  hookKey(dead.WorkflowID, dead.RunID, "flow", hooks.OnCrashed, st.Attempt, idx),
			Flow: &flow, FlowRun: &run,
		}
		err := i.callHook(ctx, hk.Err(), hk.Options(), inv, dead.TaskQueue)
		rec.hookEntry(ctx, hooks.KindFlow, dead.WorkflowID, dead.WorkflowType, inv, err)
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{names.MemoHistory: rec.memo()}); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: writing the crash handler's memo failed", "error", err)
	}
	return rec.snapshot(), nil
}

// runName applies a flow's run-name template to a run, falling back to its workflow ID.
func runName(o adapter.FlowOptions, run hooks.FlowRun) string {
	name, err := executeRunName(o.RunName, run)
	if err != nil || name == "" {
		return run.ID
	}
	return name
}

func parseParams(raw json.RawMessage) any {
	var params any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &params)
	}
	return params
}
