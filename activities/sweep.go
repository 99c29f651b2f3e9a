package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

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
