package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/flowstate/flowstate/workflows"
)

// recentWindow is how far back the frequent reconciliation passes look (at least); the passes
// over the whole look-back period come every fullReconcileEvery (at least), so that their cost,
// which grows with the dead runs the namespace keeps, is paid rarely.
const (
	recentWindow       = time.Hour
	fullReconcileEvery = 6 * time.Hour
)

// scanOverlap is how far back each trailing scan looks before the latest close time it handled,
// for runs that the visibility store lists a little late; later ones are the reconciliation's.
// Listing a run twice costs nothing: the scan remembers what it handled.
const scanOverlap = time.Minute

// scanner is the sweep's logic, without its timers: the trailing scan, the reconciliation pass
// and the check of the registered workers. It is not safe for concurrent use.
type scanner struct {
	c     sweepClient
	log   log.Logger
	now   func() time.Time
	opts  workflows.SweepOptions
	watch []workflows.Watch
	state workflows.SweepState
	// queue is the sweeper's task queue, whose pollers are the live workers.
	queue string
	// workers are the registered workers.
	workers []workflows.SweeperWorker
	// absent holds when a registered worker was first seen missing from the pollers.
	absent map[string]time.Time
	// seen holds the runs whose handlers the trailing scan started (or found started), with their
	// close times, until the cursor leaves them behind.
	seen map[string]time.Time
	// keepAlive is called as long passes go, to heartbeat.
	keepAlive func()
	// started is called with each dead run whose handler was started, and the pass that found it.
	started func(dead workflows.CrashedRun, pass string)
	// retentionCache is the namespace's retention, asked once per activity attempt.
	retentionCache time.Duration
}

func newScanner(c sweepClient, logger log.Logger, now func() time.Time, in workflows.SweepInput, state workflows.SweepState) *scanner {
	return &scanner{
		c: c, log: logger, now: now, opts: in.Options, watch: in.Watch, state: state, workers: in.Workers,
		seen: map[string]time.Time{}, absent: map[string]time.Time{}, keepAlive: func() {}, started: func(workflows.CrashedRun, string) {},
	}
}

// deadRun returns the run a visibility record describes.
func deadRun(e *workflowpb.WorkflowExecutionInfo) workflows.CrashedRun {
	return workflows.CrashedRun{
		WorkflowID:   e.GetExecution().GetWorkflowId(),
		RunID:        e.GetExecution().GetRunId(),
		WorkflowType: e.GetType().GetName(),
		TaskQueue:    e.GetTaskQueue(),
		Status:       statusName(e.GetStatus()),
		CloseTime:    e.GetCloseTime().AsTime(),
	}
}

// pass is one round of the sweep: a reconciliation when one is due (of the whole look-back period
// or of the last hour; then the check of the registered workers, and the end of the old
// per-queue sweepers) or of what joined the watch, then the trailing scan. It returns how many
// handlers it started, and the sweep's result when registered workers are gone (the sweep then
// ends, for the workflow to forget them). Failures are logged and left for a later pass.
func (s *scanner) pass(ctx context.Context) (int, *workflows.SweepResult) {
	found := 0
	now := s.now()
	full := !s.state.FullReconcileAt.After(now)
	switch {
	case full || !s.state.ReconcileAt.After(now):
		window := max(recentWindow, 2*s.opts.ReconcileInterval)
		if full {
			window = 0
		}
		n, err := s.reconcile(ctx, s.watch, window)
		found += n
		retry := now.Add(min(time.Minute, s.opts.ReconcileInterval))
		switch {
		case err != nil:
			s.log.Warn("flowstate: the crash sweeper's reconciliation failed; trying again in a minute", "error", err)
			if full {
				s.state.FullReconcileAt = retry
			} else {
				s.state.ReconcileAt = retry
			}
		case full:
			s.state.FullReconcileAt = now.Add(max(fullReconcileEvery, s.opts.ReconcileInterval))
			s.state.ReconcileAt = now.Add(s.opts.ReconcileInterval)
			s.state.Reconcile = nil
		default:
			s.state.ReconcileAt = now.Add(s.opts.ReconcileInterval)
		}
		if err := s.endLegacySweepers(ctx); err != nil {
			s.log.Warn("flowstate: listing old per-queue sweepers failed", "error", err)
		}
		gone, err := s.gone(ctx)
		if err != nil {
			s.log.Warn("flowstate: listing the pollers of the crash sweeper's task queue failed", "error", err)
		}
		if len(gone) > 0 {
			return found, &workflows.SweepResult{State: s.state, Gone: gone, CheckedAt: now}
		}
	case len(s.state.Reconcile) > 0:
		n, err := s.reconcile(ctx, s.state.Reconcile, 0)
		found += n
		if err != nil {
			s.log.Warn("flowstate: the crash sweeper's reconciliation of new flow types failed; trying again", "error", err)
		} else {
			s.state.Reconcile = nil
		}
	}
	n, err := s.trailing(ctx)
	found += n
	if err != nil && ctx.Err() == nil {
		s.log.Warn("flowstate: scanning for crashed flow runs failed; trying again", "error", err)
	}
	return found, nil
}

func runKey(workflowID, runID string) string { return workflowID + "\x00" + runID }

// trailing lists the watched runs closed since the cursor (less scanOverlap), starts the crash
// handlers of those it has not handled yet, and moves the cursor to the latest close time listed
// once every handler started. It returns how many handlers it started. A handler that fails to
// start for a passing reason leaves the cursor where it was, for the next scan to try again (a
// listing's order is not to be relied on); one the server refuses for good (an invalid argument)
// is logged and passed over, so that it holds no other run back.
func (s *scanner) trailing(ctx context.Context) (int, error) {
	if len(s.watch) == 0 {
		return 0, nil
	}
	if s.state.Cursor.IsZero() {
		s.state.Cursor = s.now().Add(-scanOverlap)
	}
	from := s.state.Cursor.Add(-scanOverlap)
	latest := s.state.Cursor
	var retry error
	started := 0
	for _, w := range watchQueries(s.watch) {
		q := and{w, deadStatuses, since{fieldCloseTime, from}}
		err := s.each(ctx, q, func(e *workflowpb.WorkflowExecutionInfo) error {
			dead := deadRun(e)
			key := runKey(dead.WorkflowID, dead.RunID)
			if _, ok := s.seen[key]; !ok {
				ok, err := s.start(ctx, dead, "trailing")
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					retry = cmpErr(retry, err)
					return nil
				}
				if ok {
					started++
				}
				s.seen[key] = dead.CloseTime
				s.keepAlive()
			}
			if dead.CloseTime.After(latest) {
				latest = dead.CloseTime
			}
			return nil
		})
		if err != nil {
			return started, err
		}
	}
	if retry != nil {
		return started, retry
	}
	s.state.Cursor = latest
	for key, closed := range s.seen {
		if closed.Before(latest.Add(-scanOverlap)) {
			delete(s.seen, key) // no later trailing scan lists it
		}
	}
	return started, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// reconcile compares the watched runs that ended outside their code within window (0: the
// look-back period, the namespace's retention unless Options.Lookback says otherwise) with the
// crash handlers that exist, and starts the handlers that are missing or did not complete
// (terminated, timed out, failed or cancelled: Temporal accepts those IDs again). It returns how
// many it started. Listing the handlers is skipped when no run is dead: an idle namespace costs one
// query.
func (s *scanner) reconcile(ctx context.Context, watch []workflows.Watch, window time.Duration) (int, error) {
	if len(watch) == 0 {
		return 0, nil
	}
	lookback, err := s.lookback(ctx)
	if err != nil {
		return 0, err
	}
	if window > 0 {
		lookback = min(lookback, window)
	}
	from := s.now().Add(-lookback)
	var dead []workflows.CrashedRun
	for _, w := range watchQueries(watch) {
		err := s.each(ctx, and{w, deadStatuses, since{fieldCloseTime, from}}, func(e *workflowpb.WorkflowExecutionInfo) error {
			dead = append(dead, deadRun(e))
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if len(dead) == 0 {
		return 0, nil
	}

	// The handlers of those runs: on their queues, started after the earliest of them closed.
	queueSet := map[string]bool{}
	earliest := dead[0].CloseTime
	for _, d := range dead {
		queueSet[d.TaskQueue] = true
		if d.CloseTime.Before(earliest) {
			earliest = d.CloseTime
		}
	}
	queues := make([]string, 0, len(queueSet))
	for q := range queueSet {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	// handled tells, by handler ID, whether the handler runs or completed. A handler may be
	// listed more than once (one run that did not complete, then one that runs): one that runs or
	// completed wins.
	handled := map[string]bool{}
	for i := 0; i < len(queues); i += maxQueryTerms {
		q := and{in{fieldType, []string{workflows.CrashHandlerWorkflow}}, in{fieldTaskQueue, queues[i:min(i+maxQueryTerms, len(queues))]}, since{fieldStartTime, earliest.Add(-scanOverlap)}}
		err := s.each(ctx, q, func(e *workflowpb.WorkflowExecutionInfo) error {
			id := e.GetExecution().GetWorkflowId()
			switch e.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
				handled[id] = true
			default:
				if _, ok := handled[id]; !ok {
					handled[id] = false // listed, did not complete
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}

	started := 0
	var retry error
	for _, d := range dead {
		done, listed := handled[workflows.CrashHandlerID(d.WorkflowID, d.RunID)]
		_, recent := s.seen[runKey(d.WorkflowID, d.RunID)]
		if done || (!listed && recent) {
			continue // handled, or its handler started a moment ago and is not listed yet
		}
		ok, err := s.start(ctx, d, "reconcile")
		if ctx.Err() != nil {
			return started, ctx.Err()
		}
		if err != nil {
			retry = cmpErr(retry, err)
			continue
		}
		if ok {
			started++
		}
		s.keepAlive()
	}
	return started, retry
}

func (s *scanner) lookback(ctx context.Context) (time.Duration, error) {
	if s.opts.Lookback > 0 {
		return s.opts.Lookback, nil
	}
	if s.retentionCache == 0 {
		r, err := s.c.retention(ctx)
		if err != nil {
			return 0, fmt.Errorf("asking the namespace's retention: %w", err)
		}
		if r <= 0 {
			r = 24 * time.Hour // no retention given: the server's default for new namespaces
		}
		s.retentionCache = r
	}
	return s.retentionCache, nil
}

// each calls fn with every execution q lists, page by page, heartbeating between pages.
func (s *scanner) each(ctx context.Context, q query, fn func(*workflowpb.WorkflowExecutionInfo) error) error {
	var token []byte
	for {
		page, next, err := s.c.list(ctx, q, token)
		if err != nil {
			return fmt.Errorf("listing %s: %w", q, err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		s.keepAlive()
		if len(next) == 0 {
			return nil
		}
		token = next
	}
}

// start starts the crash handler of a dead run, once: its workflow ID is derived from the run,
// and may be used again only when the handler did not complete (it was terminated, say), so that
// its hooks, whose idempotency keys do not change, get to finish. It reports whether a handler was
// started (false: it existed, or the server refuses it for good). An error is worth a retry.
func (s *scanner) start(ctx context.Context, dead workflows.CrashedRun, pass string) (bool, error) {
	err := s.c.startHandler(ctx, client.StartWorkflowOptions{
		ID:                       workflows.CrashHandlerID(dead.WorkflowID, dead.RunID),
		TaskQueue:                dead.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            fmt.Sprintf("on_crashed hooks of %s (%s)", shorten(dead.WorkflowID, 200), strings.ToLower(dead.Status)),
	}, dead)
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	var invalid *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &exists):
		return false, nil // handled already
	case errors.As(err, &invalid):
		s.log.Error("flowstate: the server refuses the crash handler of a flow run; its on_crashed hooks cannot run",
			"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "error", err)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("starting the crash handler of %s: %w", dead.WorkflowID, err)
	}
	s.log.Info("flowstate: flow run ended outside its code; its crash handler runs",
		"workflow_id", dead.WorkflowID, "run_id", dead.RunID, "status", dead.Status, "found_by", pass)
	s.started(dead, pass)
	return true, nil
}

// gone returns the registered workers missing from the pollers of the sweeper's task queue at
// two checks workflows.SweeperForgetAfter apart or more (and at every check between): they
// stopped, or they were cut off long enough to register again when they are back.
func (s *scanner) gone(ctx context.Context) ([]string, error) {
	live, err := s.c.pollers(ctx, s.queue)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var gone []string
	for _, w := range s.workers {
		if live[w.Identity] {
			delete(s.absent, w.Identity)
			continue
		}
		since, ok := s.absent[w.Identity]
		switch {
		case !ok:
			s.absent[w.Identity] = now
		case now.Sub(since) >= workflows.SweeperForgetAfter:
			gone = append(gone, w.Identity)
		}
	}
	return gone, nil
}

// endLegacySweepers terminates the per-queue sweepers of flowstate v0.2 that still run: the
// workers of their queues, if any, run the namespace's sweeper now.
func (s *scanner) endLegacySweepers(ctx context.Context) error {
	q := and{in{fieldType, []string{workflows.LegacySweeperWorkflow}}, in{fieldStatus, []string{"Running"}}}
	return s.each(ctx, q, func(e *workflowpb.WorkflowExecutionInfo) error {
		err := s.c.terminate(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), "replaced by flowstate's crash sweeper of the namespace")
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			s.log.Warn("flowstate: ending an old per-queue sweeper failed", "workflow_id", e.GetExecution().GetWorkflowId(), "error", err)
		}
		return nil
	})
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
