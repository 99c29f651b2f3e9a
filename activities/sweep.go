package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
	"github.com/flowstate/flowstate/workflows"
)

// Sweeper holds the activities of the crash sweeper (see the workflows package): the scan of the
// visibility store for flow runs that were terminated or timed out on the server, and the
// recovery of what such a run left behind.
type Sweeper struct {
	c     client.Client
	flows map[string]bool
}

// NewSweeper returns the sweeper activities for the flow types listed, those with on_crashed
// hooks.
func NewSweeper(c client.Client, flowTypes []string) *Sweeper {
	s := &Sweeper{c: c, flows: map[string]bool{}}
	for _, t := range flowTypes {
		s.flows[t] = true
	}
	return s
}

// scanOverlap is how far back each scan looks before the latest close time already seen, for
// runs the visibility store indexed late. Starting a crash handler twice is harmless: its
// workflow ID is taken once.
const scanOverlap = 30 * time.Second

// Sweep scans for dead flow runs until its context ends, starting a crash handler for each.
// Its position is its heartbeat, so a retry after its worker died resumes where it stopped. It
// heartbeats every third of its heartbeat timeout, however long the scan interval.
func (s *Sweeper) Sweep(ctx context.Context, in workflows.SweepInput) error {
	cursor := in.Since
	if activity.HasHeartbeatDetails(ctx) {
		var saved time.Time
		if err := activity.GetHeartbeatDetails(ctx, &saved); err == nil && saved.After(cursor) {
			cursor = saved
		}
	}
	interval := in.Interval
	if interval <= 0 {
		interval = time.Second
	}
	beat := activity.GetInfo(ctx).HeartbeatTimeout / 3
	if beat <= 0 || beat > interval {
		beat = interval
	}
	heartbeat := time.NewTicker(beat)
	defer heartbeat.Stop()
	scan := time.NewTimer(0)
	defer scan.Stop()
	logger := activity.GetLogger(ctx)
	seen := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-heartbeat.C:
			activity.RecordHeartbeat(ctx, cursor)
		case <-scan.C:
			// A long scan (the first one after a restart looks back a day) heartbeats as it goes,
			// with the position it started from: the runs of a page come newest first, so only a
			// finished scan moves the position.
			start := cursor
			next, err := s.scan(ctx, in.TaskQueue, cursor, seen, func() { activity.RecordHeartbeat(ctx, start) })
			if err != nil && ctx.Err() == nil {
				logger.Warn("flowstate: scanning for crashed flow runs failed; trying again", "error", err)
			}
			if next.After(cursor) {
				cursor = next
			}
			for key, closed := range seen {
				if closed.Before(cursor.Add(-scanOverlap)) {
					delete(seen, key) // no later scan lists it
				}
			}
			activity.RecordHeartbeat(ctx, cursor)
			scan.Reset(interval)
		}
	}
}

// scan starts crash handlers for the runs closed since cursor-scanOverlap that are not in seen,
// adds them to seen, and returns the position of the next scan: the latest close time it saw.
// A run whose handler fails to start for a passing reason is left for the next scan, and the
// position then stays at cursor, because a listing comes newest first. A run whose handler the
// server refuses (an invalid argument) cannot be handled: it is logged and passed over, so that it
// holds no other run back. scan calls keepAlive after each handler it starts.
func (s *Sweeper) scan(ctx context.Context, taskQueue string, cursor time.Time, seen map[string]time.Time, keepAlive func()) (time.Time, error) {
	query := fmt.Sprintf("TaskQueue = '%s' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut') AND CloseTime >= '%s'",
		strings.ReplaceAll(taskQueue, "'", "\\'"), cursor.Add(-scanOverlap).UTC().Format(time.RFC3339Nano))
	latest := cursor
	var retry error
	var token []byte
	for {
		resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token, PageSize: 200})
		if err != nil {
			return cursor, err
		}
		for _, e := range resp.GetExecutions() {
			if !s.flows[e.GetType().GetName()] {
				continue
			}
			dead := workflows.CrashedRun{
				WorkflowID:   e.GetExecution().GetWorkflowId(),
				RunID:        e.GetExecution().GetRunId(),
				WorkflowType: e.GetType().GetName(),
				TaskQueue:    taskQueue,
				Status:       statusName(e.GetStatus()),
				CloseTime:    e.GetCloseTime().AsTime(),
			}
			key := dead.WorkflowID + "/" + dead.RunID
			if _, ok := seen[key]; !ok {
				err := s.startHandler(ctx, dead)
				var invalid *serviceerror.InvalidArgument
				switch {
				case ctx.Err() != nil:
					return cursor, ctx.Err()
				case errors.As(err, &invalid):
					activity.GetLogger(ctx).Error("flowstate: the server refuses the crash handler of a flow run; its on_crashed hooks cannot run",
						"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "error", err)
				case err != nil:
					if retry == nil {
						retry = err
					}
					continue
				}
				seen[key] = dead.CloseTime
				keepAlive()
			}
			if dead.CloseTime.After(latest) {
				latest = dead.CloseTime
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if retry != nil {
		return cursor, retry
	}
	return latest, nil
}

// startHandler starts the crash handler of a dead run, once: its workflow ID is derived from the
// run, and may be used again only when the handler did not complete (it was terminated, say),
// so that its hooks, whose idempotency keys do not change, get to finish.
func (s *Sweeper) startHandler(ctx context.Context, dead workflows.CrashedRun) error {
	_, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.CrashHandlerID(dead.WorkflowID, dead.RunID),
		TaskQueue:                dead.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            fmt.Sprintf("on_crashed hooks of %s (%s)", shorten(dead.WorkflowID, 200), strings.ToLower(dead.Status)),
	}, workflows.CrashHandlerWorkflow, dead)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // handled already
	}
	if err != nil {
		return fmt.Errorf("starting the crash handler of %s: %w", dead.WorkflowID, err)
	}
	activity.GetLogger(ctx).Info("flowstate: flow run ended outside its code; its crash handler runs",
		"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "status", dead.Status)
	return nil
}

// shorten cuts s to at most n bytes, on a rune boundary, marking the cut: servers bound the size
// of a summary (limit.userMetadataSummarySize, 400 bytes by default), not of a workflow ID.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "Terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "TimedOut"
	}
	return s.String()
}

// resetterIdentity is the identity the Temporal server terminates a run with when it resets it
// (`temporal workflow reset`): the workflow goes on in the new run. (The server's
// consts.IdentityResetter; the library does not import the server.)
const resetterIdentity = "history-resetter"

// CrashInfo recovers what a dead run left: its input, start time, parent, the data it attached
// (memo), the reason it ended, and, when a worker can answer the query, its state history.
func (s *Sweeper) CrashInfo(ctx context.Context, dead workflows.CrashedRun) (workflows.CrashInfo, error) {
	desc, err := s.c.DescribeWorkflowExecution(ctx, dead.WorkflowID, dead.RunID)
	if err != nil {
		return workflows.CrashInfo{}, fmt.Errorf("describing %s: %w", dead.WorkflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	run := hooks.FlowRun{
		ID: dead.WorkflowID, RunID: dead.RunID, FlowName: dead.WorkflowType,
		Namespace: activity.GetInfo(ctx).WorkflowNamespace, TaskQueue: info.GetTaskQueue(),
		ExpectedStartTime: info.GetStartTime().AsTime(), Attempt: 1,
		ParentID: info.GetParentExecution().GetWorkflowId(),
	}
	dc := converter.GetDefaultDataConverter()
	if p, ok := info.GetSearchAttributes().GetIndexedFields()["TemporalScheduledStartTime"]; ok {
		var t time.Time
		if dc.FromPayload(p, &t) == nil && !t.IsZero() {
			run.ExpectedStartTime = t
		}
	}
	if p, ok := info.GetMemo().GetFields()[names.MemoData]; ok {
		_ = dc.FromPayload(p, &run.Data)
	}

	out := workflows.CrashInfo{Reason: "the workflow ended outside its code (" + strings.ToLower(dead.Status) + ")"}
	if first, err := s.event(ctx, dead, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT); err == nil {
		run.Parameters = jsonOf(first.GetWorkflowExecutionStartedEventAttributes().GetInput())
	}
	if last, err := s.closeEvent(ctx, dead); err == nil {
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

	// The query replays the dead run on a worker: it gives the state history and the attempt.
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if v, err := s.c.QueryWorkflow(qctx, dead.WorkflowID, dead.RunID, names.Query); err == nil {
		var h hooks.History
		if v.Get(&h) == nil {
			out.History = &h
			if h.State.Attempt > 0 {
				run.Attempt = h.State.Attempt
			}
			// The replay also applied the data signalled after the run's last workflow task,
			// which its memo never got (SetRunDataFromTask just before the end).
			for k, v := range h.Data {
				if run.Data == nil {
					run.Data = map[string]json.RawMessage{}
				}
				run.Data[k] = v
			}
		}
	} else {
		activity.GetLogger(ctx).Info("flowstate: the dead run's state history could not be queried; hooks get what its memo holds",
			"workflow_id", dead.WorkflowID, "error", err)
	}
	out.Run = run
	return out, nil
}

// closeEvent returns the last event of a closed run's history, as the server recorded it. (Asked
// for with HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT, the server shows a timeout that its retry
// policy or cron schedule follows as a ContinuedAsNew event, which hides the retry state.)
func (s *Sweeper) closeEvent(ctx context.Context, dead workflows.CrashedRun) (*historypb.HistoryEvent, error) {
	resp, err := s.c.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
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

// event returns the first event of a run's history for the given filter.
func (s *Sweeper) event(ctx context.Context, dead workflows.CrashedRun, filter enumspb.HistoryEventFilterType) (*historypb.HistoryEvent, error) {
	it := s.c.GetWorkflowHistory(ctx, dead.WorkflowID, dead.RunID, false, filter)
	if !it.HasNext() {
		return nil, errors.New("empty history")
	}
	return it.Next()
}

// jsonOf returns the first payload's data when it is JSON.
func jsonOf(p *commonpb.Payloads) json.RawMessage {
	if p == nil || len(p.GetPayloads()) == 0 {
		return nil
	}
	first := p.GetPayloads()[0]
	if string(first.GetMetadata()[converter.MetadataEncoding]) != converter.MetadataEncodingJSON {
		return nil
	}
	return json.RawMessage(first.GetData())
}
