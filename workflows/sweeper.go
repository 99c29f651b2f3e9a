package workflows

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The crash sweeper. When a flow's workflow is terminated or times out on the server, no workflow
// code of that run runs again, so its on_crashed hooks cannot be run from it. The sweeper does it
// from outside: it finds such runs in the visibility store and starts a crash handler for each
// (CrashHandlerWorkflow, see crash.go).
//
//   - There is one sweeper per namespace (per group of workers, see SweeperWorkflowID): a workflow
//     on a task queue of its own (SweeperTaskQueue), which every flowstate worker of the namespace
//     polls besides its own queue, so that the sweeper goes on while any worker lives.
//   - Each worker registers its task queue and flow types with the sweeper when it starts
//     (RegisterSignal, sent with SignalWithStartWorkflow, which also starts the sweeper). The
//     sweeper watches the union of what the live workers registered, carried in its visibility
//     queries: a run of a flow type that only some workers know is found whichever worker scans.
//     It forgets a worker that stopped polling its queue (SweeperForgetAfter).
//   - One long activity (SweepActivity) scans: a trailing cursor over close times finds runs within
//     about a second of their end (every Interval for a minute after a start or a crash, every
//     IdleInterval otherwise), and reconciliation passes compare dead runs with the crash handlers
//     that exist: those of the last hour every ReconcileInterval, those of the whole retention
//     period at start, every 6 hours, and for a flow type that joins the watch. So a run the
//     visibility store lists late (within the hour, or within 6 hours when later), a run that
//     crashed while no sweeper ran, and a run of a flow type registered later are handled too.
//     Its position is its heartbeat: a worker that takes the activity over resumes where a dead
//     one stopped.
//   - A crash handler's workflow ID is derived from the dead run (CrashHandlerID) and Temporal
//     accepts it once: however many times a run is seen, its hooks are started once. A handler that
//     did not complete (terminated, say) is started again by the next reconciliation.
//
// The sweeper restarts its activity when the watch grows (a new queue or flow type), continues as
// new every 12 hours, and ends (timed out) within a day after the last worker of its namespace went away.

// Names of the sweeper's workflow, activity and signal types.
const (
	// SweeperWorkflow is the sweeper's workflow type.
	SweeperWorkflow = "flowstate.crash-sweeper"
	// SweepActivity is the activity type of the sweeper's scan.
	SweepActivity = "flowstate.crash-sweep"
	// RegisterSignal is the signal with which a worker registers its task queue and flow types with
	// the sweeper (a Registration).
	RegisterSignal = "flowstate.register"
)

// SweepHeartbeatTimeout is the heartbeat timeout of the sweep activity: how long a sweeper whose
// worker died waits before it resumes on another worker.
const SweepHeartbeatTimeout = 5 * time.Second

// SweeperRunTimeout is the run timeout a worker starts the sweeper with. The sweeper continues as
// new every 12 hours, well before it: it runs into it only when no worker ran it for half a day,
// and then ends, so that no sweeper stays open in a namespace nobody serves any more.
const SweeperRunTimeout = 24 * time.Hour

// sweeperContinueAfter is how long one run of the sweeper lasts before it continues as new.
const sweeperContinueAfter = 12 * time.Hour

// SweeperForgetAfter is how long a registered worker must have been missing from the pollers of
// the sweeper's task queue, seen at two checks at least this far apart, before the sweeper forgets
// it; the server lists a poller for minutes after its last poll besides. A worker that could not
// reach the server for this long registers again (worker.SweeperOptions).
const SweeperForgetAfter = 10 * time.Minute

// SweeperWorkflowID returns the workflow ID of the sweeper of a group of workers of a namespace
// ("" being every worker that names no group).
func SweeperWorkflowID(group string) string { return sweeperName(group) }

// SweeperTaskQueue returns the task queue the sweeper of a group runs on.
func SweeperTaskQueue(group string) string { return sweeperName(group) }

func sweeperName(group string) string {
	if group == "" {
		return "flowstate-crash-sweeper"
	}
	return "flowstate-crash-sweeper/" + group
}

// SweepOptions are the sweeper's intervals, set by the worker that starts it.
type SweepOptions struct {
	// Interval is the pause between two scans for a minute after the sweeper starts or finds a
	// crashed run.
	Interval time.Duration `json:"interval"`
	// IdleInterval is the pause between two scans otherwise.
	IdleInterval time.Duration `json:"idle_interval"`
	// ReconcileInterval is the pause between two reconciliation passes over the last hour.
	ReconcileInterval time.Duration `json:"reconcile_interval"`
	// Lookback is how far back the reconciliation passes over the whole period look; zero means
	// the namespace's retention.
	Lookback time.Duration `json:"lookback,omitempty"`
}

// Registration is what a worker tells the sweeper: who it is (its identity as a poller of the
// sweeper's task queue), its task queue, and the flow types it runs there.
type Registration struct {
	Identity  string   `json:"identity"`
	TaskQueue string   `json:"task_queue"`
	FlowTypes []string `json:"flow_types"`
}

// SweeperWorker is a worker the sweeper knows: the queues and flow types it registered, and when
// it last did (workflow time).
type SweeperWorker struct {
	Identity   string              `json:"identity"`
	Queues     map[string][]string `json:"queues"`
	Registered time.Time           `json:"registered"`
}

// Watch is a set of runs the sweeper looks for: those of one of FlowTypes on one of TaskQueues.
type Watch struct {
	TaskQueues []string `json:"task_queues"`
	FlowTypes  []string `json:"flow_types"`
}

// SweepState is the scan's position, kept in the sweep activity's heartbeat and carried from one
// activity to the next.
type SweepState struct {
	// Cursor is the latest close time the trailing scan handled; zero before the first scan.
	Cursor time.Time `json:"cursor,omitzero"`
	// ReconcileAt is when the next reconciliation of the last hour is due.
	ReconcileAt time.Time `json:"reconcile_at,omitzero"`
	// FullReconcileAt is when the next reconciliation of the whole look-back period is due; zero
	// means at once.
	FullReconcileAt time.Time `json:"full_reconcile_at,omitzero"`
	// Reconcile are runs that joined the watch since the last pass, reconciled at once.
	Reconcile []Watch `json:"reconcile,omitempty"`
}

// SweeperInput is the sweeper workflow's input, and what it continues as new with.
type SweeperInput struct {
	Options SweepOptions    `json:"options"`
	Workers []SweeperWorker `json:"workers,omitempty"`
	State   SweepState      `json:"state"`
}

// SweepInput is the sweep activity's input.
type SweepInput struct {
	Options SweepOptions `json:"options"`
	// Watch is what the scans look for: the union of the live workers' registrations.
	Watch []Watch `json:"watch"`
	// Workers are the registered workers, whose presence the activity checks at each
	// reconciliation pass.
	Workers []SweeperWorker `json:"workers"`
	State   SweepState      `json:"state"`
}

// SweepResult is what the sweep activity returns when registered workers are gone: their
// identities, when it checked, and its position.
type SweepResult struct {
	State     SweepState `json:"state"`
	Gone      []string   `json:"gone"`
	CheckedAt time.Time  `json:"checked_at"`
}

// Sweeper is the sweeper workflow. It keeps the registrations of the workers, runs the sweep
// activity with what they watch, restarts it when the watch grows or a worker is gone, and
// continues as new every 12 hours. It ends only when cancelled (workers start it again).
func Sweeper(ctx workflow.Context, in SweeperInput) error {
	reg := newRegistry(in.Workers)
	state := in.State
	signals := workflow.GetSignalChannel(ctx, RegisterSignal)
	logger := workflow.GetLogger(ctx)
	continueAt := workflow.NewTimer(ctx, sweeperContinueAfter)
	watched := reg.pairs()
	for {
		for {
			var r Registration
			if !signals.ReceiveAsync(&r) {
				break
			}
			reg.add(r, workflow.Now(ctx))
		}
		pairs := reg.pairs()
		if added := pairs.minus(watched); len(added) > 0 {
			state.Reconcile = append(state.Reconcile, added.watch()...)
		}
		watched = pairs
		workflow.SetCurrentDetails(ctx, reg.details())

		actx, cancel := workflow.WithCancel(ctx)
		actx = workflow.WithActivityOptions(actx, workflow.ActivityOptions{
			StartToCloseTimeout: SweeperRunTimeout,
			HeartbeatTimeout:    SweepHeartbeatTimeout,
			// The activity only stops when its worker does (or its heartbeat fails): retry it at
			// once, without backing off, however often that happened before.
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: time.Second},
			WaitForCancellation: true,
			Summary:             fmt.Sprintf("scan for terminated and timed-out runs of %d flow types on %d task queues", pairs.types(), pairs.queues()),
		})
		f := workflow.ExecuteActivity(actx, SweepActivity, SweepInput{Options: in.Options, Watch: pairs.watch(), Workers: reg.list(), State: state})
		done, restarting, continuing := false, false, false
		for !done {
			sel := workflow.NewSelector(ctx)
			sel.AddFuture(f, func(workflow.Future) { done = true })
			sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
				var r Registration
				c.Receive(ctx, &r)
				if reg.add(r, workflow.Now(ctx)) && !restarting {
					restarting = true
					cancel()
				}
			})
			if !continuing {
				sel.AddFuture(continueAt, func(workflow.Future) {
					continuing = true
					cancel()
				})
			}
			sel.Select(ctx)
		}

		var res SweepResult
		err := f.Get(ctx, &res)
		if ctx.Err() != nil {
			return ctx.Err() // the sweeper was cancelled
		}
		var canceled *temporal.CanceledError
		var timeout *temporal.TimeoutError
		switch {
		case err == nil:
			state = res.State
			for _, gone := range reg.prune(res.Gone, res.CheckedAt) {
				logger.Info("flowstate: a worker no longer polls the sweeper's task queue; its flow types leave the watch unless other workers run them", "identity", gone)
			}
		case errors.As(err, &canceled):
			var st SweepState
			if canceled.HasDetails() && canceled.Details(&st) == nil {
				state = st
			}
		case errors.As(err, &timeout):
			var st SweepState
			if timeout.HasLastHeartbeatDetails() && timeout.LastHeartbeatDetails(&st) == nil {
				state = st
			}
		default:
			// Not expected (the activity is retried without limit): wait rather than spin.
			logger.Error("flowstate: the crash sweep failed; starting it again in a minute", "error", err)
			if err := workflow.Sleep(ctx, time.Minute); err != nil {
				return err
			}
		}
		if continuing || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			for {
				var r Registration
				if !signals.ReceiveAsync(&r) {
					break
				}
				reg.add(r, workflow.Now(ctx))
			}
			if added := reg.pairs().minus(watched); len(added) > 0 {
				state.Reconcile = append(state.Reconcile, added.watch()...)
			}
			return workflow.NewContinueAsNewError(ctx, SweeperWorkflow, SweeperInput{Options: in.Options, Workers: reg.list(), State: state})
		}
	}
}

// registry holds the workers that registered with the sweeper, by identity.
type registry map[string]*SweeperWorker

func newRegistry(workers []SweeperWorker) registry {
	r := registry{}
	for _, w := range workers {
		w := w
		w.Queues = cloneQueues(w.Queues)
		r[w.Identity] = &w
	}
	return r
}

// add records a registration, merged with what the worker registered before (a worker that stops
// running a flow type keeps it watched until it is gone: watching too much costs nothing), and
// reports whether the watch grew.
func (r registry) add(reg Registration, now time.Time) bool {
	before := r.pairs()
	w, ok := r[reg.Identity]
	if !ok {
		w = &SweeperWorker{Identity: reg.Identity, Queues: map[string][]string{}}
		r[reg.Identity] = w
	}
	w.Registered = now
	types := append(w.Queues[reg.TaskQueue], reg.FlowTypes...)
	slices.Sort(types)
	w.Queues[reg.TaskQueue] = slices.Compact(types)
	return len(r.pairs().minus(before)) > 0
}

// prune forgets the workers found gone at checkedAt, but for those that registered since, and
// returns the identities it forgot.
func (r registry) prune(gone []string, checkedAt time.Time) []string {
	var out []string
	for _, id := range gone {
		if w, ok := r[id]; ok && w.Registered.Before(checkedAt) {
			out = append(out, id)
			delete(r, id)
		}
	}
	return out
}

// list returns the workers sorted by identity.
func (r registry) list() []SweeperWorker {
	ids := make([]string, 0, len(r))
	for id := range r {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]SweeperWorker, 0, len(ids))
	for _, id := range ids {
		w := *r[id]
		w.Queues = cloneQueues(w.Queues)
		out = append(out, w)
	}
	return out
}

// pairs returns the union of what the workers watch.
func (r registry) pairs() pairSet {
	s := pairSet{}
	for _, w := range r {
		for q, types := range w.Queues {
			for _, t := range types {
				s.add(q, t)
			}
		}
	}
	return s
}

// details is the sweeper's current details in the Web UI (Markdown).
func (r registry) details() string {
	var b strings.Builder
	p := r.pairs()
	fmt.Fprintf(&b, "**flowstate crash sweeper**: %d workers, %d task queues, %d flow types watched\n\n", len(r), p.queues(), p.types())
	b.WriteString("| task queues | flow types |\n| --- | --- |\n")
	for _, w := range p.watch() {
		fmt.Fprintf(&b, "| %s | %s |\n", strings.Join(w.TaskQueues, ", "), strings.Join(w.FlowTypes, ", "))
	}
	return b.String()
}

func cloneQueues(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for q, types := range m {
		out[q] = slices.Clone(types)
	}
	return out
}

// pairSet is a set of (task queue, flow type) pairs.
type pairSet map[string]map[string]bool

func (s pairSet) add(queue, flowType string) {
	if s[queue] == nil {
		s[queue] = map[string]bool{}
	}
	s[queue][flowType] = true
}

// minus returns the pairs of s that are not in o.
func (s pairSet) minus(o pairSet) pairSet {
	out := pairSet{}
	for q, types := range s {
		for t := range types {
			if !o[q][t] {
				out.add(q, t)
			}
		}
	}
	return out
}

func (s pairSet) queues() int { return len(s) }

func (s pairSet) types() int {
	all := map[string]bool{}
	for _, types := range s {
		for t := range types {
			all[t] = true
		}
	}
	return len(all)
}

// watch returns the pairs as watches, queues with the same flow types together, sorted.
func (s pairSet) watch() []Watch {
	byTypes := map[string]*Watch{}
	for q, set := range s {
		types := make([]string, 0, len(set))
		for t := range set {
			types = append(types, t)
		}
		slices.Sort(types)
		key := strings.Join(types, "\x00")
		w, ok := byTypes[key]
		if !ok {
			w = &Watch{FlowTypes: types}
			byTypes[key] = w
		}
		w.TaskQueues = append(w.TaskQueues, q)
	}
	out := make([]Watch, 0, len(byTypes))
	for _, w := range byTypes {
		slices.Sort(w.TaskQueues)
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskQueues[0] < out[j].TaskQueues[0] })
	return out
}
