package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/workflows"
)

// Sweeper holds the activities of the crash sweeper (see the workflows package): the scan of the
// visibility store for flow runs that were terminated or timed out on the server (what such a run
// left is CrashReader's), and the scan activity of v0.2's per-queue sweeper, which ends that
// sweeper.
type Sweeper struct {
	c     client.Client
	ended func()
}

// NewSweeper returns the sweeper activities. ended, when not nil, is called when a scan that ran
// on this worker ends while the worker goes on (its sweeper restarted it, or was closed): the
// worker then makes sure that the sweeper runs.
func NewSweeper(c client.Client, ended func()) *Sweeper {
	return &Sweeper{c: c, ended: ended}
}

// errWorkerStops ends a sweep whose worker stops, so that another worker takes the scan over at
// once rather than after the heartbeat timeout, from the position of its last heartbeat. It is
// retryable and benign (the SDK logs it at debug level), and carries no details: the SDK could not
// encode them any more (the worker's context is cancelled as it stops).
var errWorkerStops = temporal.NewApplicationErrorWithOptions("flowstate: the worker stops; another takes the scan over",
	"flowstate.WorkerStopping", temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign})

// hotFor is how long the sweep scans at its short interval after it starts or finds a dead run.
const hotFor = time.Minute

// Sweep scans for dead flow runs until its context ends, starting a crash handler for each: a
// trailing scan every Interval (IdleInterval once nothing crashed for a minute), reconciliation
// passes over the last hour every ReconcileInterval and over the whole look-back period at start
// and every 6 hours, and one at once for what joined the watch (scanner.pass). Its position is its
// heartbeat, so a retry after its worker died resumes where it stopped. It returns when a
// registered worker is gone (the workflow then forgets it), and with a cancellation error carrying
// its position when the workflow cancels it.
func (s *Sweeper) Sweep(ctx context.Context, in workflows.SweepInput) (workflows.SweepResult, error) {
	info := activity.GetInfo(ctx)
	state := in.State
	if activity.HasHeartbeatDetails(ctx) {
		var saved workflows.SweepState
		if err := activity.GetHeartbeatDetails(ctx, &saved); err == nil {
			state = saved
		}
	}
	opts := in.Options
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.IdleInterval < opts.Interval {
		opts.IdleInterval = opts.Interval
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = 10 * time.Minute
	}
	in.Options = opts
	logger := activity.GetLogger(ctx)
	metrics := activity.GetMetricsHandler(ctx)
	sc := newScanner(temporalClient{c: s.c, namespace: info.WorkflowNamespace}, logger, time.Now, in, state)
	sc.queue = info.TaskQueue
	sc.keepAlive = func() { activity.RecordHeartbeat(ctx, sc.state) }
	sc.started = func(dead workflows.CrashedRun, pass string) {
		// How long after its end a dead run's handler started: the sweeper's lag.
		metrics.WithTags(map[string]string{"pass": pass}).Timer("flowstate_sweeper_lag").Record(time.Since(dead.CloseTime))
	}

	beat := info.HeartbeatTimeout / 3
	if beat <= 0 {
		beat = time.Second
	}
	heartbeat := time.NewTicker(beat)
	defer heartbeat.Stop()
	scan := time.NewTimer(0)
	defer scan.Stop()
	stopping := activity.GetWorkerStopChannel(ctx)
	hotUntil := time.Now().Add(hotFor)
	for {
		select {
		case <-stopping:
			return workflows.SweepResult{}, errWorkerStops
		case <-ctx.Done():
			select {
			case <-stopping:
				return workflows.SweepResult{}, errWorkerStops
			default:
			}
			if s.ended != nil {
				s.ended()
			}
			return workflows.SweepResult{}, temporal.NewCanceledError(sc.state)
		case <-heartbeat.C:
			activity.RecordHeartbeat(ctx, sc.state)
		case <-scan.C:
			found, res := sc.pass(ctx)
			if res != nil {
				return *res, nil
			}
			if found > 0 {
				hotUntil = time.Now().Add(hotFor)
			}
			activity.RecordHeartbeat(ctx, sc.state)
			if time.Now().Before(hotUntil) {
				scan.Reset(opts.Interval)
			} else {
				scan.Reset(opts.IdleInterval)
			}
		}
	}
}

// LegacySweep is the scan activity of flowstate v0.2's per-queue sweeper, which the namespace's
// sweeper replaced: it returns at once, so that an old sweeper whose scan comes to this worker
// completes.
func (s *Sweeper) LegacySweep(ctx context.Context, in workflows.LegacySweepInput) error {
	activity.GetLogger(ctx).Info("flowstate: an old per-queue crash sweeper ends; the namespace's sweeper replaces it", "task_queue", in.TaskQueue)
	return nil
}
