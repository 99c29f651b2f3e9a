package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/workflows"
)

// SweeperOptions configure the crash sweeper, which runs the on_crashed hooks of flow runs that
// were terminated or timed out on the server (see the workflows package). The zero value means
// the defaults.
//
// The sweeper is one workflow per namespace (workflows.SweeperWorkflowID), on a task queue of its
// own (workflows.SweeperTaskQueue) that every worker polls besides its own queue. Each worker
// registers its task queue and flow types with it when it starts, and starts it if it does not
// run; the sweeper watches the flow types of all the live workers. The first worker starts it with
// its options: the options of later workers do not change a sweeper that runs.
type SweeperOptions struct {
	// Disabled turns the sweeper off on this worker: it neither registers its flow types nor helps
	// run the sweeper. The on_crashed hooks of its terminated and timed-out runs then run only if
	// another worker registers the same flow types on the same task queue.
	Disabled bool
	// Interval is the pause between two scans of the visibility store for a minute after the
	// sweeper starts or finds a crashed run.
	// default: 1 second
	Interval time.Duration
	// IdleInterval is the pause between two scans once nothing crashed for a minute: the longest
	// a terminated run then waits before its crash handler starts.
	// default: 10 seconds
	IdleInterval time.Duration
	// ReconcileInterval is the pause between two reconciliation passes over the last hour, which
	// compare the dead runs with their crash handlers and start those missing (a run the
	// visibility store listed late, a handler that was terminated). A pass over the whole
	// look-back period comes every 6 hours, when the sweeper starts, and for new flow types.
	// default: 10 minutes
	ReconcileInterval time.Duration
	// Lookback is how far back the passes over the whole period look.
	// default: the namespace's retention period
	Lookback time.Duration
	// Group gives the workers that name it a sweeper of their own, apart from the namespace's:
	// for teams that share a namespace and want their flows watched by their own workers only, and
	// for tests. Crash handlers run on the dead runs' task queues either way.
	// default: "" (one sweeper for the namespace)
	Group string
}

// sweeperCheckEvery is how often a worker makes sure that the sweeper it registered with still
// runs (an operator may have terminated it). A worker also checks at once when a scan that ran on
// it ends.
const sweeperCheckEvery = 5 * time.Minute

// sweeper is a worker's part of the namespace's crash sweeper: a Temporal worker on the sweeper's
// task queue, and the registration of the worker's flow types.
type sweeper struct {
	c        client.Client
	opts     SweeperOptions
	reg      workflows.Registration
	internal sdkworker.Worker
	logger   *slog.Logger
	wake     chan struct{}

	mu      sync.Mutex
	chain   string    // first run ID of the sweeper this worker registered with
	contact time.Time // wall-clock time of the last answer of the server about the sweeper

	stopKeeper func()
}

// registerLegacySweeper registers on w the types of the per-queue sweeper of flowstate v0.2, so
// that an old sweeper of the queue replays and completes.
func registerLegacySweeper(w sdkworker.Worker) {
	w.RegisterWorkflowWithOptions(workflows.LegacySweeper, workflow.RegisterOptions{Name: workflows.LegacySweeperWorkflow})
	w.RegisterActivityWithOptions(activities.NewSweeper(nil, nil).LegacySweep, activity.RegisterOptions{Name: workflows.LegacySweepActivity})
}

// newSweeper returns the worker's part of the sweeper for a worker of queue running flowTypes, or
// nil when there is none to watch or the sweeper is disabled.
func newSweeper(c client.Client, queue string, flowTypes []string, opts Options, logger *slog.Logger) *sweeper {
	if len(flowTypes) == 0 || opts.Sweeper.Disabled {
		return nil
	}
	o := opts.Sweeper
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.IdleInterval <= 0 {
		o.IdleInterval = 10 * time.Second
	}
	o.IdleInterval = max(o.IdleInterval, o.Interval)
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = 10 * time.Minute
	}
	internalQueue := workflows.SweeperTaskQueue(o.Group)
	identity := opts.Worker.Identity
	if identity == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "unknown"
		}
		identity = fmt.Sprintf("%d@%s@%s", os.Getpid(), host, internalQueue)
	}
	s := &sweeper{
		c: c, opts: o, logger: logger, wake: make(chan struct{}, 1),
		reg: workflows.Registration{Identity: identity, TaskQueue: queue, FlowTypes: flowTypes},
	}
	// Few pollers and slots: the sweeper is one workflow and one activity for the namespace.
	s.internal = sdkworker.New(c, internalQueue, sdkworker.Options{
		Identity:                               identity,
		MaxConcurrentWorkflowTaskPollers:       2,
		MaxConcurrentWorkflowTaskExecutionSize: 2,
		MaxConcurrentActivityTaskPollers:       1,
		MaxConcurrentActivityExecutionSize:     2,
		WorkerStopTimeout:                      opts.Worker.WorkerStopTimeout,
	})
	s.internal.RegisterWorkflowWithOptions(workflows.Sweeper, workflow.RegisterOptions{Name: workflows.SweeperWorkflow})
	s.internal.RegisterActivityWithOptions(activities.NewSweeper(c, s.poke).Sweep, activity.RegisterOptions{Name: workflows.SweepActivity})
	return s
}

// start starts the worker on the sweeper's task queue, ends the old per-queue sweeper of the
// worker's queue, registers the worker with the sweeper (starting it if it does not run), and
// keeps watch over it.
func (s *sweeper) start() error {
	if err := s.internal.Start(); err != nil {
		return fmt.Errorf("flowstate: starting the crash sweeper's worker: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultRPCTimeout)
	defer cancel()
	s.endLegacy(ctx)
	if err := s.register(ctx); err != nil {
		s.internal.Stop()
		return err
	}
	kctx, kcancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.keep(kctx)
	}()
	s.stopKeeper = func() {
		kcancel()
		<-stopped
	}
	return nil
}

// stop stops the watch and the worker on the sweeper's task queue; the sweeper goes on, on the
// namespace's other workers.
func (s *sweeper) stop() {
	if s.stopKeeper != nil {
		s.stopKeeper()
		s.stopKeeper = nil
	}
	s.internal.Stop()
}

// register sends the worker's registration to the sweeper, starting the sweeper if it does not
// run, and remembers which chain of sweeper runs got it.
func (s *sweeper) register(ctx context.Context) error {
	id := workflows.SweeperWorkflowID(s.opts.Group)
	run, err := s.c.SignalWithStartWorkflow(ctx, id, workflows.RegisterSignal, s.reg, client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             workflows.SweeperTaskQueue(s.opts.Group),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowRunTimeout:    workflows.SweeperRunTimeout,
		StaticSummary:         "flowstate crash sweeper: runs the on_crashed hooks of terminated and timed-out flow runs",
	}, workflows.SweeperWorkflow, workflows.SweeperInput{Options: workflows.SweepOptions{
		Interval: s.opts.Interval, IdleInterval: s.opts.IdleInterval,
		ReconcileInterval: s.opts.ReconcileInterval, Lookback: s.opts.Lookback,
	}})
	if err != nil {
		return fmt.Errorf("flowstate: registering with the crash sweeper %s: %w", id, err)
	}
	chain := run.GetRunID()
	if desc, err := s.c.DescribeWorkflowExecution(ctx, id, run.GetRunID()); err == nil && desc.GetWorkflowExecutionInfo().GetFirstRunId() != "" {
		chain = desc.GetWorkflowExecutionInfo().GetFirstRunId()
	}
	s.mu.Lock()
	s.chain, s.contact = chain, time.Now().Round(0)
	s.mu.Unlock()
	return nil
}

// check registers the worker again when the sweeper it registered with no longer runs, was
// started again by another worker (which does not know this worker's flow types), or may have
// forgotten this worker: the worker had not heard from the server for workflows.SweeperForgetAfter
// (it was cut off, or its machine slept), long enough for the sweeper to find it gone.
func (s *sweeper) check(ctx context.Context) error {
	id := workflows.SweeperWorkflowID(s.opts.Group)
	desc, err := s.c.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	info := desc.GetWorkflowExecutionInfo()
	now := time.Now().Round(0) // wall clock: a machine that slept counts the time it slept
	s.mu.Lock()
	chain, contact := s.chain, s.contact
	if err == nil {
		s.contact = now
	}
	s.mu.Unlock()
	switch {
	case err != nil:
	case info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
	case info.GetFirstRunId() != "" && info.GetFirstRunId() != chain:
	case now.Sub(contact) >= workflows.SweeperForgetAfter:
	default:
		return nil
	}
	if err := s.register(ctx); err != nil {
		return err
	}
	s.logger.Warn("flowstate: the crash sweeper had stopped, was started again, or may have forgotten this worker; registered with it again",
		"workflow_id", id, "task_queue", s.reg.TaskQueue)
	return nil
}

// poke asks the keeper to check the sweeper soon: a scan that ran on this worker ended.
func (s *sweeper) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// keep checks the sweeper every sweeperCheckEvery (give or take a fifth, so that the workers of a
// fleet do not ask together), and a moment after a scan on this worker ended, until ctx ends.
func (s *sweeper) keep(ctx context.Context) {
	for {
		every := time.Duration(float64(sweeperCheckEvery) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.wake:
			t.Stop()
			// Let the sweeper take the scan's end in (a cancelled sweeper closes then).
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
		cctx, cancel := context.WithTimeout(ctx, defaultRPCTimeout)
		err := s.check(cctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("flowstate: checking the crash sweeper failed; trying again later", "error", err)
		}
	}
}

// endLegacy cancels the per-queue sweeper of flowstate v0.2 of the worker's queue, if it runs.
func (s *sweeper) endLegacy(ctx context.Context) {
	err := s.c.CancelWorkflow(ctx, workflows.LegacySweeperWorkflowID(s.reg.TaskQueue), "")
	var nf *serviceerror.NotFound
	if err == nil {
		s.logger.Info("flowstate: cancelled the old per-queue crash sweeper; the namespace's sweeper replaces it", "task_queue", s.reg.TaskQueue)
	} else if !errors.As(err, &nf) {
		s.logger.Debug("flowstate: cancelling the old per-queue crash sweeper failed", "task_queue", s.reg.TaskQueue, "error", err)
	}
}
