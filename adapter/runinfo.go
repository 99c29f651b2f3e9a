package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// ErrNotInFlow is returned by the functions for flow code when the workflow is not managed by the
// flowstate interceptor (a worker built without the worker package).
var ErrNotInFlow = errors.New("flowstate: not in a flow run managed by the flowstate interceptor")

// MaxRunDataSize bounds the JSON of one value attached with SetRunData.
const MaxRunDataSize = 4 << 10

// FlowRunInfo returns the current flow run, as its hooks will see it: Prefect's
// prefect.runtime.flow_run. Outside a flowstate-managed workflow it describes what Temporal knows.
func FlowRunInfo(ctx workflow.Context) hooks.FlowRun {
	if run := flowctx.RunFrom(ctx); run != nil {
		return run.Info()
	}
	info := workflow.GetInfo(ctx)
	return hooks.FlowRun{
		ID:                info.WorkflowExecution.ID,
		RunID:             info.WorkflowExecution.RunID,
		Name:              info.WorkflowExecution.ID,
		FlowName:          info.WorkflowType.Name,
		Namespace:         info.Namespace,
		TaskQueue:         info.TaskQueueName,
		ExpectedStartTime: info.WorkflowStartTime,
		Attempt:           int(info.Attempt),
	}
}

// SetRunData attaches value, as JSON, to the current flow run under key. The run's hooks see it in
// FlowRun.Data, including on_crashed hooks of a run that was terminated later; it is also in the
// run's state history. Keep it small (MaxRunDataSize) and never secret: it is stored in workflow
// history.
func SetRunData(ctx workflow.Context, key string, value any) error {
	raw, err := encodeRunData(key, value)
	if err != nil {
		return err
	}
	run := flowctx.RunFrom(ctx)
	if run == nil {
		return ErrNotInFlow
	}
	return run.SetData(ctx, key, raw)
}

// SetRunDataFromTask attaches value to the flow run that called the running task, as
// SetRunData does from flow code. It signals the flow's workflow, so the data is recorded even if
// the task crashes afterwards.
func SetRunDataFromTask(ctx context.Context, key string, value any) error {
	raw, err := encodeRunData(key, value)
	if err != nil {
		return err
	}
	if !activity.IsActivity(ctx) {
		return errors.New("flowstate: SetRunDataFromTask called outside a task")
	}
	info := activity.GetInfo(ctx)
	err = activity.GetClient(ctx).SignalWorkflow(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID,
		names.SignalData, RunDataSignal{Key: key, Value: raw})
	if err != nil {
		return fmt.Errorf("flowstate: attaching %q to flow run %s: %w", key, info.WorkflowExecution.ID, err)
	}
	return nil
}

// RunDataSignal is the payload of the signal SetRunDataFromTask sends.
type RunDataSignal struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

func encodeRunData(key string, value any) (json.RawMessage, error) {
	if key == "" {
		return nil, errors.New("flowstate: run data needs a key")
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("flowstate: run data %q is not serialisable as JSON: %w", key, err)
	}
	if len(raw) > MaxRunDataSize {
		return nil, fmt.Errorf("flowstate: run data %q is %d bytes, more than %d", key, len(raw), MaxRunDataSize)
	}
	return raw, nil
}

// TaskRunInfo returns the task run the calling task code executes: Prefect's
// prefect.runtime.task_run.
func TaskRunInfo(ctx context.Context) hooks.TaskRun {
	if run, ok := flowctx.TaskRunFrom(ctx); ok {
		return run
	}
	if !activity.IsActivity(ctx) {
		return hooks.TaskRun{}
	}
	info := activity.GetInfo(ctx)
	return hooks.TaskRun{
		ID:           info.ActivityID,
		TaskName:     info.ActivityType.Name,
		FlowRunID:    info.WorkflowExecution.ID,
		FlowRunRunID: info.WorkflowExecution.RunID,
		FlowName:     info.WorkflowType.Name,
		Namespace:    info.WorkflowNamespace,
		Attempt:      int(info.Attempt),
	}
}
