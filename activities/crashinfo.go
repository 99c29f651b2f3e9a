package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
	"github.com/flowstate/flowstate/workflows"
)

// CrashReader is the activity of the crash handler (see the workflows package) that recovers what
// a flow run terminated or timed out on the server left: its plan, input, data, state history and
// why it ended.
type CrashReader struct {
	c client.Client
	// planFor gives the plan the worker's definitions give a flow type (workflows.Interceptor.PlanFor).
	planFor func(flowType string, stateAtStart bool) ([]byte, bool)
}

// NewCrashReader returns the crash-info activity. planFor gives, for a run that never ran a
// workflow task (and so recorded no plan), the plan the worker's definitions give its type.
func NewCrashReader(c client.Client, planFor func(flowType string, stateAtStart bool) ([]byte, bool)) *CrashReader {
	return &CrashReader{c: c, planFor: planFor}
}

// resetterIdentity is the identity the Temporal server terminates a run with when it resets it
// (`temporal workflow reset`): the workflow goes on in the new run. (The server's
// consts.IdentityResetter; the library does not import the server.)
const resetterIdentity = "history-resetter"

// errUnknownFlow is returned, retryably, by a worker asked about a run that recorded no plan and
// whose flow type it does not know: another worker of the queue may know it.
var errUnknownFlow = errors.New("flowstate: this worker does not know the flow type")

// CrashInfo recovers what a dead run left. The run's plan, run and state history come from a
// query (QueryCrash) that a worker answers by replaying the run, decoded by this worker's client
// (its payload codec included); a run that never ran a workflow task has none, and gets the plan
// of this worker's definitions, its raw input and memo, which the crash handler decodes.
func (r *CrashReader) CrashInfo(ctx context.Context, dead workflows.CrashedRun) (workflows.CrashInfo, error) {
	desc, err := r.c.DescribeWorkflowExecution(ctx, dead.WorkflowID, dead.RunID)
	if err != nil {
		return workflows.CrashInfo{}, fmt.Errorf("describing %s: %w", dead.WorkflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	out := workflows.CrashInfo{Reason: "the workflow ended outside its code (" + strings.ToLower(dead.Status) + ")"}
	if last, err := r.closeEvent(ctx, dead); err == nil {
		switch {
		case last.GetWorkflowExecutionTerminatedEventAttributes() != nil:
			a := last.GetWorkflowExecutionTerminatedEventAttributes()
			out.Reason = "terminated"
			if a.GetReason() != "" {
				out.Reason += ": " + a.GetReason()
			}
			if a.GetIdentity() != "" {
				out.Reason += " (by " + a.GetIdentity() + ")"
			}
			if a.GetIdentity() == resetterIdentity {
				out.Skip = "the run was reset; the flow goes on in a new run"
			}
		case last.GetWorkflowExecutionTimedOutEventAttributes() != nil:
			a := last.GetWorkflowExecutionTimedOutEventAttributes()
			out.Reason = "timed out on the Temporal server: the workflow's execution or run timeout passed"
			if a.GetRetryState() == enumspb.RETRY_STATE_IN_PROGRESS {
				out.Skip = "the workflow's retry policy started run " + a.GetNewExecutionRunId()
			}
		}
	}

	ran := int64(0)
	if first, err := r.firstTaskCompleted(ctx, dead); err == nil {
		ran = first
	}
	if ran > 0 {
		// The query replays the dead run on a worker: it gives the plan, the run and the history.
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := r.c.QueryWorkflow(qctx, dead.WorkflowID, dead.RunID, workflows.QueryCrash)
		if err != nil {
			return workflows.CrashInfo{}, temporal.NewApplicationError(
				fmt.Sprintf("flowstate: the dead run %s could not be read through a query (a worker that knows its flow replays it): %v", dead.WorkflowID, err),
				"flowstate.CrashQuery")
		}
		var view workflows.CrashView
		if err := v.Get(&view); err != nil {
			return workflows.CrashInfo{}, fmt.Errorf("decoding what %s left: %w", dead.WorkflowID, err)
		}
		out.Plan, out.Run, out.History, out.Transactions = view.Plan, view.Run, &view.History, view.Transactions
		out.History.Data = view.Run.Data
		return out, nil
	}

	// The run never ran a workflow task: what the server keeps of it is all there is.
	stateAtStart := false
	if _, ok := info.GetSearchAttributes().GetIndexedFields()[names.SAState]; ok {
		stateAtStart = true
	}
	plan, known := r.planFor(dead.WorkflowType, stateAtStart)
	if !known {
		return workflows.CrashInfo{}, temporal.NewApplicationError(
			fmt.Sprintf("%v: %s (another worker of task queue %s may know it)", errUnknownFlow, dead.WorkflowType, dead.TaskQueue), "flowstate.UnknownFlow")
	}
	out.Plan = plan
	out.Run = hooks.FlowRun{
		ID: dead.WorkflowID, RunID: dead.RunID, Name: dead.WorkflowID, FlowName: dead.WorkflowType,
		Namespace: activity.GetInfo(ctx).WorkflowNamespace, TaskQueue: info.GetTaskQueue(),
		ExpectedStartTime: info.GetStartTime().AsTime(), Attempt: 1,
		ParentID: info.GetParentExecution().GetWorkflowId(),
	}
	if p, ok := info.GetSearchAttributes().GetIndexedFields()["TemporalScheduledStartTime"]; ok {
		var t time.Time
		if err := converter.GetDefaultDataConverter().FromPayload(p, &t); err == nil && !t.IsZero() {
			out.Run.ExpectedStartTime = t
		}
	}
	for k, p := range info.GetMemo().GetFields() {
		if k == names.MemoData || strings.HasPrefix(k, names.MemoDataPrefix) {
			if out.DataFields == nil {
				out.DataFields = map[string]*commonpb.Payload{}
			}
			out.DataFields[k] = p
		}
	}
	if first, err := r.startEvent(ctx, dead); err == nil {
		if in := first.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads(); len(in) > 0 {
			out.Input = in[0]
		}
	}
	return out, nil
}

// closeEvent returns the last event of a closed run's history, as the server recorded it. (Asked
// for with HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT, the server shows a timeout that its retry
// policy or cron schedule follows as a ContinuedAsNew event, which hides the retry state.)
func (r *CrashReader) closeEvent(ctx context.Context, dead workflows.CrashedRun) (*historypb.HistoryEvent, error) {
	resp, err := r.c.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace:       activity.GetInfo(ctx).WorkflowNamespace,
		Execution:       &commonpb.WorkflowExecution{WorkflowId: dead.WorkflowID, RunId: dead.RunID},
		MaximumPageSize: 1,
	})
	if err != nil {
		return nil, err
	}
	events := resp.GetHistory().GetEvents()
	if len(events) == 0 {
		return nil, errors.New("empty history")
	}
	return events[0], nil
}

// startEvent returns the first event of a run's history.
func (r *CrashReader) startEvent(ctx context.Context, dead workflows.CrashedRun) (*historypb.HistoryEvent, error) {
	it := r.c.GetWorkflowHistory(ctx, dead.WorkflowID, dead.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return nil, errors.New("empty history")
	}
	return it.Next()
}

// firstTaskCompleted returns the ID of the run's first WorkflowTaskCompleted event, 0 when the run
// never completed a workflow task.
func (r *CrashReader) firstTaskCompleted(ctx context.Context, dead workflows.CrashedRun) (int64, error) {
	it := r.c.GetWorkflowHistory(ctx, dead.WorkflowID, dead.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return 0, err
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return e.GetEventId(), nil
		}
	}
	return 0, nil
}
