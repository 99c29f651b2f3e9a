package workflows

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/taskrun"
)

// A run's commands must be the same on every replay, whatever the worker replaying it knows. So
// everything a flow run's commands depend on — the flow's hooks at each event and their modes,
// its retries and timeout, whether it keeps the FlowState search attribute, and for each task the
// hooks it runs and so whether the workflow schedules its attempts — is fixed per run, in a plan:
//
//   - a flow plan, decided when the run's first workflow task runs, from the definitions of the
//     worker running it;
//   - a task plan for each task name, decided when the run first calls the task, and a plan of
//     its own for a call whose options differ from it (a WithOptions copy).
//
// A plan that differs from the zero plan (no hooks, no retries, no timeout: the plan of a run
// that costs what a plain workflow costs) is recorded in the run's history, once, as a marker
// (records.go); a replay reads the recorded plan instead of the worker's definitions. A plan that
// is zero is not recorded: a run without hooks costs no more history than before, and a replay
// that finds no record knows the plan was zero. New runs take the current definitions; runs in
// flight keep the plan they recorded.

// hookSpec is one hook attachment as a plan fixes it: the hook's name, its bound arguments and
// the options its calls run with.
type hookSpec struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
	// Mode is ModeAuto, ModeLocal or ModeActivity, resolved from the hook's options and the
	// worker's defaults when the plan was made.
	Mode      hooks.Mode            `json:"mode,omitempty"`
	Queue     string                `json:"queue,omitempty"`
	Retry     *temporal.RetryPolicy `json:"retry,omitempty"`
	Timeout   time.Duration         `json:"timeout,omitempty"`
	Heartbeat time.Duration         `json:"heartbeat,omitempty"`
	// Err is what was wrong with the hook's definition: its calls fail at once, recorded.
	Err string `json:"err,omitempty"`
	// Unregistered marks a hook the planning worker did not have (attached by a WithOptions copy
	// in flow code, and not listed in worker.Options.Hooks): its calls fail at once, recorded.
	Unregistered bool `json:"unregistered,omitempty"`
}

// hookPlan lists the hooks of each event, in the order they run.
type hookPlan map[hooks.Event][]hookSpec

func (p hookPlan) empty() bool {
	for _, l := range p {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// retrySpec is how a flow or a workflow-scheduled task retries.
type retrySpec struct {
	Retries int            `json:"retries,omitempty"`
	Delay   *taskrun.Delay `json:"delay,omitempty"`
	Jitter  float64        `json:"jitter,omitempty"`
}

func (r retrySpec) wait(retry int, u float64) time.Duration {
	d := r.Delay.RetryDelay()
	if d == nil {
		return 0
	}
	return adapter.JitteredDelay(d.Delay(retry), r.Jitter, u)
}

// flowPlan is what a flow run's commands depend on, fixed when the run starts.
type flowPlan struct {
	// V is the plan format; it is 1 in every recorded plan.
	V     int       `json:"v"`
	Hooks hookPlan  `json:"hooks,omitempty"`
	Retry retrySpec `json:"retry,omitzero"`
	// Timeout bounds each attempt of the body.
	Timeout time.Duration `json:"timeout,omitempty"`
	// NoState is set when the run keeps no FlowState search attribute (the namespace does not
	// have it).
	NoState bool `json:"no_state,omitempty"`
	// Grace is how long before a server-side execution or run timeout the run ends itself, TimedOut;
	// negative: never. Zero means DefaultDeadlineGrace.
	Grace time.Duration `json:"grace,omitempty"`
	// legacy marks the plan of a run started by flowstate v0.1, rebuilt from the current
	// definitions by its rules; it is never recorded.
	legacy bool
}

// zero reports whether the plan is that of a run that costs a plain workflow's history and so
// needs no record.
func (p flowPlan) zero() bool {
	return p.Hooks.empty() && p.Retry == (retrySpec{}) && p.Timeout == 0 && !p.NoState && p.Grace == 0
}

// taskPlan is what a task run's commands depend on, fixed when the run first calls the task.
type taskPlan struct {
	Hooks hookPlan `json:"hooks,omitempty"`
	// Retry and Timeout apply when the workflow schedules the attempts (the task has on_running
	// hooks); otherwise the Temporal server retries the activity.
	Retry retrySpec `json:"retry,omitzero"`
	// Since is the first call of the task (its number in "name#n") a recorded task plan applies
	// to.
	Since int `json:"since,omitempty"`
	// legacy marks the plan of a call in a run started by flowstate v0.1.
	legacy bool
}

func (p taskPlan) zero() bool { return p.Hooks.empty() }

// workflowScheduled reports whether the workflow schedules each attempt itself, so that
// on_running hooks run before each.
func (p taskPlan) workflowScheduled() bool { return len(p.Hooks[hooks.OnRunning]) > 0 }

// same reports whether two task plans run the same hooks and retries.
func (p taskPlan) same(q taskPlan) bool {
	p.Since, q.Since = 0, 0
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(q)
	return string(a) == string(b)
}

// planner turns definitions into plans, resolving hook options with the worker's defaults.
type planner struct {
	defaults hooks.Options
	reg      *hooks.Registry
	noState  bool // the worker knows FlowState is not registered
}

// flowHookPlan returns the hook plan of a flow's options.
func (pl planner) flowHooks(o adapter.FlowOptions, legacy bool) hookPlan {
	hp := hookPlan{}
	for _, e := range hooks.Events {
		for _, h := range o.Hooks(e) {
			hp[e] = append(hp[e], pl.spec(h.Name(), h.Args(), h.Options(), h.Err(), legacy))
		}
	}
	return hp
}

// taskHooks returns the hook plan of a task's options.
func (pl planner) taskHooks(o adapter.TaskOptions, legacy bool) hookPlan {
	hp := hookPlan{}
	for _, e := range hooks.TaskEvents {
		for _, h := range o.Hooks(e) {
			hp[e] = append(hp[e], pl.spec(h.Name(), h.Args(), h.Options(), h.Err(), legacy))
		}
	}
	return hp
}

func (pl planner) spec(name string, args json.RawMessage, o hooks.Options, defErr error, legacy bool) hookSpec {
	d := pl.defaults
	if legacy && d.Mode == hooks.ModeDefault {
		d.Mode = hooks.ModeActivity // flowstate v0.1's default
	}
	o = o.WithDefaults(d)
	s := hookSpec{Name: name, Args: args, Mode: o.Mode, Queue: o.TaskQueue, Retry: o.RetryPolicy,
		Timeout: o.StartToCloseTimeout, Heartbeat: o.HeartbeatTimeout}
	if defErr != nil {
		s.Err = defErr.Error()
	}
	if pl.reg != nil && s.Queue == "" && !pl.reg.Has(name) {
		s.Unregistered = true
	}
	return s
}

func (pl planner) flowPlan(o adapter.FlowOptions, noStateAtStart bool, legacy bool) flowPlan {
	p := flowPlan{
		V:       1,
		Hooks:   pl.flowHooks(o, legacy),
		Retry:   retrySpec{Retries: o.Retries, Delay: taskrun.EncodeDelay(o.RetryDelay), Jitter: o.RetryJitterFactor},
		Timeout: o.Timeout,
		NoState: noStateAtStart && pl.noState,
		Grace:   o.DeadlineGrace,
		legacy:  legacy,
	}
	if p.Hooks.empty() {
		p.Hooks = nil
	}
	return p
}

func (pl planner) taskPlan(o adapter.TaskOptions, legacy bool) taskPlan {
	p := taskPlan{Hooks: pl.taskHooks(o, legacy), legacy: legacy}
	if p.Hooks.empty() {
		p.Hooks = nil
		return p // the server retries: nothing else is the workflow's
	}
	p.Retry = retrySpec{Retries: o.Retries, Delay: taskrun.EncodeDelay(o.RetryDelay), Jitter: o.RetryJitterFactor}
	return p
}
