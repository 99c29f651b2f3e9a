package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The per-queue sweeper of flowstate v0.2, replaced by the namespace's sweeper (sweeper.go). Its
// runs may still be open when a new worker starts: workers keep its workflow type registered, with
// the same code, so that those runs replay, and register its activity type with an activity that
// returns at once, so that an open one completes as soon as its scan runs on a new worker. A new
// worker also cancels the old sweeper of its own task queue when it starts, and the new sweeper
// terminates the old sweepers of queues that no worker serves any more.

// Names of the per-queue sweeper's workflow and activity types.
const (
	LegacySweeperWorkflow = "flowstate.sweeper"
	LegacySweepActivity   = "flowstate.sweep"
)

// LegacySweeperWorkflowID returns the workflow ID of the per-queue sweeper of a task queue.
func LegacySweeperWorkflowID(taskQueue string) string { return "flowstate-sweeper/" + taskQueue }

// LegacySweepInput is the per-queue sweeper's input.
type LegacySweepInput struct {
	TaskQueue string        `json:"task_queue"`
	Since     time.Time     `json:"since"`
	Interval  time.Duration `json:"interval"`
}

// LegacySweeper is the per-queue sweeper's workflow, unchanged: it runs the sweep activity until it
// returns or the workflow is cancelled.
func LegacySweeper(ctx workflow.Context, in LegacySweepInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 100 * 365 * 24 * time.Hour,
		HeartbeatTimeout:    SweepHeartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: time.Second},
		Summary:             "scan for terminated and timed-out flow runs",
	})
	return workflow.ExecuteActivity(ctx, LegacySweepActivity, in).Get(ctx, nil)
}
