package replay

import (
	"slices"
	"time"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// Scenario is one set of definitions the corpus records runs with.
type Scenario struct {
	// Name names the scenario; its histories are testdata/<version>/<name>-<run>.json.
	Name string
	// Defs are the definitions the runs are recorded with.
	Defs Defs
	// Runs are the runs recorded.
	Runs []Run
	// Changes are the definitions of the next deploys, by name: each recorded run replays on
	// every one of them (changes corpus only).
	Changes map[string]Defs
	// NoSearchAttribute records the runs in a namespace without the FlowState search attribute.
	NoSearchAttribute bool
}

// Run is one recorded run.
type Run struct {
	// Name names the run within its scenario.
	Name string
	// Workflow is the flow or plain workflow the run executes.
	Workflow string
	// Input is its input.
	Input Input
	// ByName starts the run by type name, as the temporal CLI does, rather than with
	// adapter.StartFlow: it starts without the FlowState search attribute.
	ByName bool
	// Open records the run while it waits for SignalGo; Cancel cancels it then and records it
	// closed.
	Open, Cancel bool
}

// standardRuns are the runs recorded for a scenario of the corpus flow: completed (started both
// ways), failed, open and cancelled.
func standardRuns(workflow string, byName bool) []Run {
	return []Run{
		{Name: "done", Workflow: workflow, ByName: byName},
		{Name: "done-cli", Workflow: workflow, ByName: true},
		{Name: "failed", Workflow: workflow, Input: Input{Fail: true}, ByName: byName},
		{Name: "open", Workflow: workflow, Input: Input{Wait: true}, ByName: byName, Open: true},
		{Name: "cancelled", Workflow: workflow, Input: Input{Wait: true}, ByName: byName, Open: true, Cancel: true},
	}
}

// allFlowHooks attaches a hook to every event of the flow, two to on_completion (one of which
// keeps failing) and to on_running.
func allFlowHooks() adapter.FlowOptions {
	return adapter.FlowOptions{
		OnRunning:      []hooks.FlowHook{FlowRunning, FlowAudit},
		OnCompletion:   []hooks.FlowHook{FlowDone, FlowFlaky},
		OnFailure:      []hooks.FlowHook{FlowFailed},
		OnCancellation: []hooks.FlowHook{FlowCancelled},
		OnCrashed:      []hooks.FlowHook{FlowCrashed},
	}
}

// allTaskHooks attaches a hook to every event of the task, on_running included, with a retry.
func allTaskHooks() adapter.TaskOptions {
	return adapter.TaskOptions{
		Retries:        1,
		OnRunning:      []hooks.TaskHook{TaskRunning},
		OnCompletion:   []hooks.TaskHook{TaskDone, TaskAudit},
		OnFailure:      []hooks.TaskHook{TaskFailed},
		OnCancellation: []hooks.TaskHook{TaskCancelled},
		OnCrashed:      []hooks.TaskHook{TaskCrashed},
	}
}

func boundArgs(x string, y int) []hooks.TaskHook {
	return []hooks.TaskHook{BoundArgs.Bind(BoundArgsInput{X: x, Y: y})}
}

// LegacyScenarios are the scenarios recorded by flowstate v0.1 into testdata/v0.1. They are
// replayed on the same definitions.
func LegacyScenarios() []Scenario {
	return []Scenario{
		{Name: "hooks-activity", Defs: Defs{Flow: allFlowHooks(), Task: allTaskHooks()}, Runs: standardRuns(FlowName, false)},
		{Name: "hooks-local", Defs: Defs{Flow: allFlowHooks(), Task: allTaskHooks(), Options: worker.Options{HookDefaults: hooks.Options{Mode: hooks.ModeLocal}}},
			Runs: standardRuns(FlowName, false)},
		{Name: "no-hooks", Defs: Defs{Task: adapter.TaskOptions{Retries: 1}}, Runs: standardRuns(FlowName, false)},
		{Name: "sa-off", Defs: Defs{Flow: allFlowHooks(), Task: allTaskHooks(), Options: worker.Options{SearchAttributes: worker.SearchAttributesOff}},
			Runs: standardRuns(FlowName, true)},
		{Name: "by-name", Defs: Defs{Task: adapter.TaskOptions{Retries: 1}, Options: worker.Options{
			Workflows:  map[string]adapter.FlowOptions{PlainWorkflow: {OnCompletion: []hooks.FlowHook{PlainDone}, OnFailure: []hooks.FlowHook{PlainFailed}}},
			Activities: map[string]adapter.TaskOptions{PlainActivity: {OnRunning: []hooks.TaskHook{ChargeRunning}, OnCompletion: []hooks.TaskHook{ChargeDone}}},
		}}, Runs: standardRuns(PlainWorkflow, true)},
		{Name: "copy", Defs: Defs{Task: adapter.TaskOptions{Retries: 1}, CopyHooks: boundArgs}, Runs: []Run{
			{Name: "done", Workflow: CopyFlowName},
			{Name: "open", Workflow: CopyFlowName, Input: Input{Wait: true}, Open: true},
		}},
	}
}

// Scenarios are the scenarios of the changes corpus (testdata/v0.2): runs recorded from each
// scenario's "v1" definitions, open or closed, replayed on each of its changes — the "v2"
// definitions of every change a deploy may make (SPEC §7, issue 9).
func Scenarios() []Scenario {
	hooked := Defs{Flow: twoFlowHooks(), Task: twoTaskHooks()}
	plain := Defs{Task: adapter.TaskOptions{Retries: 1}}
	return []Scenario{
		// Hooks added, removed and reordered at every event of the flow and of its task.
		{Name: "hooks", Defs: hooked, Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"reordered":            editHooks(hooked, slices.Clone[[]hooks.FlowHook], slices.Clone[[]hooks.TaskHook], true),
			"added-last":           editHooks(hooked, appendHook(FlowExtra), appendHook(TaskExtra), false),
			"added-first":          editHooks(hooked, prependHook(FlowExtra), prependHook(TaskExtra), false),
			"removed-one":          editHooks(hooked, dropFirst[hooks.FlowHook], dropFirst[hooks.TaskHook], false),
			"removed-all":          plain,
			"task-running-removed": with(hooked, func(d *Defs) { d.Task.OnRunning = nil }),
			"flow-hooks-removed":   with(hooked, func(d *Defs) { d.Flow = adapter.FlowOptions{} }),
			"unregistered":         with(plain, func(d *Defs) { d.Unregistered = hookNames(hooked) }),
		}},
		// Hooks attached to a flow and a task that had none: the on_running and
		// on_completion cases among them.
		{Name: "no-hooks", Defs: plain, Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"all-hooks":       hooked,
			"task-running":    with(plain, func(d *Defs) { d.Task.OnRunning = []hooks.TaskHook{TaskRunning} }),
			"flow-running":    with(plain, func(d *Defs) { d.Flow.OnRunning = []hooks.FlowHook{FlowRunning} }),
			"flow-completion": with(plain, func(d *Defs) { d.Flow.OnCompletion = []hooks.FlowHook{FlowDone} }),
			"flow-failure":    with(plain, func(d *Defs) { d.Flow.OnFailure = []hooks.FlowHook{FlowFailed} }),
			"task-retries":    with(plain, func(d *Defs) { d.Task.Retries, d.Task.RetryDelay = 3, adapter.FixedDelay(time.Second) }),
			"flow-retries":    with(plain, func(d *Defs) { d.Flow.Retries, d.Flow.Timeout = 2, time.Hour }),
		}},
		// on_running added to a task that had other hooks (its attempts move from the server to
		// the workflow), and removed again.
		{Name: "task-running", Defs: with(plain, func(d *Defs) { d.Task.OnCompletion = []hooks.TaskHook{TaskDone} }),
			Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
				"added": with(plain, func(d *Defs) {
					d.Task.OnCompletion, d.Task.OnRunning = []hooks.TaskHook{TaskDone}, []hooks.TaskHook{TaskRunning}
				}),
				"completion-removed": plain,
			}},
		// Hooks switched between ModeActivity, ModeLocal and ModeAuto.
		{Name: "mode-activity", Defs: withMode(hooked, hooks.ModeActivity), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"local": withMode(hooked, hooks.ModeLocal),
			"auto":  withMode(hooked, hooks.ModeAuto),
		}},
		{Name: "mode-local", Defs: withMode(hooked, hooks.ModeLocal), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"activity": withMode(hooked, hooks.ModeActivity),
			"auto":     withMode(hooked, hooks.ModeAuto),
		}},
		{Name: "mode-auto", Defs: withMode(hooked, hooks.ModeAuto), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"activity": withMode(hooked, hooks.ModeActivity),
			"local":    withMode(hooked, hooks.ModeLocal),
		}},
		// Flow and task retries, retry delays and timeouts changed.
		{Name: "retries", Defs: retries(), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"more": with(retries(), func(d *Defs) {
				d.Flow.Retries, d.Flow.RetryDelay, d.Flow.Timeout = 3, adapter.ExponentialBackoff{Initial: 50 * time.Millisecond}, 2*time.Hour
				d.Task.Retries, d.Task.RetryDelay = 4, adapter.FixedDelay(time.Second)
			}),
			"fewer": with(retries(), func(d *Defs) {
				d.Flow.Retries, d.Flow.RetryDelay, d.Flow.Timeout = 0, nil, 0
				d.Task.Retries, d.Task.RetryDelay = 0, nil
			}),
			"none": {},
		}},
		// Hooks attached by name to a plain workflow and activity that had none, and the reverse.
		{Name: "plain", Defs: plain, Runs: changeRuns(PlainWorkflow, true), Changes: map[string]Defs{
			"attached":          with(plain, func(d *Defs) { d.Options = byName(true, true) }),
			"attached-workflow": with(plain, func(d *Defs) { d.Options = byName(true, false) }),
			"attached-activity": with(plain, func(d *Defs) { d.Options = byName(false, true) }),
		}},
		{Name: "by-name", Defs: with(plain, func(d *Defs) { d.Options = byName(true, true) }), Runs: changeRuns(PlainWorkflow, true),
			Changes: map[string]Defs{
				"detached": plain,
				"reordered": with(plain, func(d *Defs) {
					d.Options = byName(true, true)
					wf := d.Options.Workflows[PlainWorkflow]
					wf.OnCompletion = []hooks.FlowHook{FlowAudit, PlainDone}
					d.Options.Workflows[PlainWorkflow] = wf
					act := d.Options.Activities[PlainActivity]
					act.OnCompletion = []hooks.TaskHook{TaskAudit, ChargeDone}
					d.Options.Activities[PlainActivity] = act
				}),
				"activity-running-removed": with(plain, func(d *Defs) {
					d.Options = byName(true, true)
					act := d.Options.Activities[PlainActivity]
					act.OnRunning = nil
					d.Options.Activities[PlainActivity] = act
				}),
			}},
		// The FlowState search attribute registered, and not: what the worker knows (its
		// SearchAttributes setting, or what its start-up check found) changes.
		{Name: "sa-on", Defs: withSA(hooked, worker.SearchAttributesOn), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"off":          withSA(hooked, worker.SearchAttributesOff),
			"off-no-hooks": withSA(plain, worker.SearchAttributesOff),
		}},
		{Name: "sa-on-no-hooks", Defs: withSA(plain, worker.SearchAttributesOn), Runs: changeRuns(FlowName, false), Changes: map[string]Defs{
			"off":       withSA(plain, worker.SearchAttributesOff),
			"off-hooks": withSA(hooked, worker.SearchAttributesOff),
		}},
		{Name: "sa-none", NoSearchAttribute: true, Defs: withSA(plain, worker.SearchAttributesOff), Runs: changeRuns(FlowName, true),
			Changes: map[string]Defs{
				"on":       withSA(plain, worker.SearchAttributesOn),
				"on-hooks": withSA(hooked, worker.SearchAttributesOn),
			}},
		{Name: "sa-none-hooks", NoSearchAttribute: true, Defs: withSA(hooked, worker.SearchAttributesOff), Runs: changeRuns(FlowName, true),
			Changes: map[string]Defs{
				"on":          withSA(hooked, worker.SearchAttributesOn),
				"on-no-hooks": withSA(plain, worker.SearchAttributesOn),
			}},
		// A WithOptions copy changed: its bound arguments, its hooks, on_running added, the
		// options it copies.
		{Name: "copy", Defs: with(plain, func(d *Defs) { d.CopyHooks = boundArgs }), Runs: copyRuns(), Changes: map[string]Defs{
			"unhooked":   plain,
			"other-args": with(plain, func(d *Defs) { d.CopyEdit = func(o *adapter.TaskOptions) { o.OnFailure = boundArgs("bar", 7) } }),
			"running": with(plain, func(d *Defs) {
				d.CopyHooks = boundArgs
				d.CopyEdit = func(o *adapter.TaskOptions) { o.OnRunning = []hooks.TaskHook{TaskRunning} }
			}),
			"task-hooks": with(hooked, func(d *Defs) { d.CopyHooks = boundArgs }),
		}},
		{Name: "copy-unhooked", Defs: plain, Runs: copyRuns(), Changes: map[string]Defs{
			"hooked": with(plain, func(d *Defs) { d.CopyHooks = boundArgs }),
			"running": with(plain, func(d *Defs) {
				d.CopyEdit = func(o *adapter.TaskOptions) { o.OnRunning = []hooks.TaskHook{TaskRunning} }
			}),
			"task-hooks": hooked,
		}},
	}
}

// changeRuns are the runs recorded for a scenario of the changes corpus: the standard runs, and
// for the corpus flow a run whose task and flow crash.
func changeRuns(workflow string, byName bool) []Run {
	runs := standardRuns(workflow, byName)
	if workflow == FlowName {
		runs = append(runs, Run{Name: "crashed", Workflow: workflow, Input: Input{Crash: true}, ByName: byName})
	}
	return runs
}

// copyRuns are the runs recorded for a scenario of the copy flow.
func copyRuns() []Run {
	return []Run{
		{Name: "done", Workflow: CopyFlowName},
		{Name: "open", Workflow: CopyFlowName, Input: Input{Wait: true}, Open: true},
		{Name: "cancelled", Workflow: CopyFlowName, Input: Input{Wait: true}, Open: true, Cancel: true},
	}
}

// twoFlowHooks attaches two hooks to every event of the flow, one of which keeps failing on
// on_completion.
func twoFlowHooks() adapter.FlowOptions {
	return adapter.FlowOptions{
		OnRunning:      []hooks.FlowHook{FlowRunning, FlowAudit},
		OnCompletion:   []hooks.FlowHook{FlowDone, FlowFlaky},
		OnFailure:      []hooks.FlowHook{FlowFailed, FlowAudit},
		OnCancellation: []hooks.FlowHook{FlowCancelled, FlowAudit},
		OnCrashed:      []hooks.FlowHook{FlowCrashed, FlowAudit},
	}
}

// twoTaskHooks attaches two hooks to every event of the task, with a retry.
func twoTaskHooks() adapter.TaskOptions {
	return adapter.TaskOptions{
		Retries:        1,
		OnRunning:      []hooks.TaskHook{TaskRunning, TaskAudit},
		OnCompletion:   []hooks.TaskHook{TaskDone, TaskAudit},
		OnFailure:      []hooks.TaskHook{TaskFailed, TaskAudit},
		OnCancellation: []hooks.TaskHook{TaskCancelled, TaskAudit},
		OnCrashed:      []hooks.TaskHook{TaskCrashed, TaskAudit},
	}
}

// retries are definitions with flow and task retries, delays and a flow timeout.
func retries() Defs {
	return Defs{
		Flow: adapter.FlowOptions{Retries: 1, RetryDelay: adapter.FixedDelay(10 * time.Millisecond), Timeout: time.Hour,
			OnRunning: []hooks.FlowHook{FlowRunning}, OnFailure: []hooks.FlowHook{FlowFailed}},
		Task: adapter.TaskOptions{Retries: 2, RetryDelay: adapter.DelayList{10 * time.Millisecond, 20 * time.Millisecond},
			OnRunning: []hooks.TaskHook{TaskRunning}, OnFailure: []hooks.TaskHook{TaskFailed}},
	}
}

// byName attaches hooks to the plain workflow and the plain activity by name.
func byName(workflow, activity bool) worker.Options {
	var o worker.Options
	if workflow {
		o.Workflows = map[string]adapter.FlowOptions{PlainWorkflow: {
			OnRunning:      []hooks.FlowHook{FlowRunning},
			OnCompletion:   []hooks.FlowHook{PlainDone, FlowAudit},
			OnFailure:      []hooks.FlowHook{PlainFailed},
			OnCancellation: []hooks.FlowHook{FlowCancelled},
		}}
	}
	if activity {
		o.Activities = map[string]adapter.TaskOptions{PlainActivity: {
			OnRunning:    []hooks.TaskHook{ChargeRunning},
			OnCompletion: []hooks.TaskHook{ChargeDone, TaskAudit},
		}}
	}
	return o
}

// with returns a copy of d edited by edit.
func with(d Defs, edit func(*Defs)) Defs {
	d.Flow, d.Task = cloneFlow(d.Flow), cloneTask(d.Task)
	edit(&d)
	return d
}

func withMode(d Defs, m hooks.Mode) Defs {
	return with(d, func(d *Defs) { d.Options.HookDefaults.Mode = m })
}

func withSA(d Defs, m worker.SearchAttributeMode) Defs {
	return with(d, func(d *Defs) { d.Options.SearchAttributes = m })
}

// editHooks returns d with the hook list of every event of the flow and the task edited, and
// reversed when reverse is set.
func editHooks(d Defs, fl func([]hooks.FlowHook) []hooks.FlowHook, tl func([]hooks.TaskHook) []hooks.TaskHook, reverse bool) Defs {
	return with(d, func(d *Defs) {
		for _, l := range []*[]hooks.FlowHook{&d.Flow.OnRunning, &d.Flow.OnCompletion, &d.Flow.OnFailure, &d.Flow.OnCancellation, &d.Flow.OnCrashed} {
			*l = fl(slices.Clone(*l))
			if reverse {
				slices.Reverse(*l)
			}
		}
		for _, l := range []*[]hooks.TaskHook{&d.Task.OnRunning, &d.Task.OnCompletion, &d.Task.OnFailure, &d.Task.OnCancellation, &d.Task.OnCrashed} {
			*l = tl(slices.Clone(*l))
			if reverse {
				slices.Reverse(*l)
			}
		}
	})
}

func appendHook[H any](h H) func([]H) []H { return func(l []H) []H { return append(l, h) } }

func prependHook[H any](h H) func([]H) []H { return func(l []H) []H { return append([]H{h}, l...) } }

func dropFirst[H any](l []H) []H { return l[1:] }

func cloneFlow(o adapter.FlowOptions) adapter.FlowOptions {
	o.OnRunning, o.OnCompletion, o.OnFailure = slices.Clone(o.OnRunning), slices.Clone(o.OnCompletion), slices.Clone(o.OnFailure)
	o.OnCancellation, o.OnCrashed = slices.Clone(o.OnCancellation), slices.Clone(o.OnCrashed)
	return o
}

func cloneTask(o adapter.TaskOptions) adapter.TaskOptions {
	o.OnRunning, o.OnCompletion, o.OnFailure = slices.Clone(o.OnRunning), slices.Clone(o.OnCompletion), slices.Clone(o.OnFailure)
	o.OnCancellation, o.OnCrashed = slices.Clone(o.OnCancellation), slices.Clone(o.OnCrashed)
	return o
}

// hookNames returns the names of the hooks d attaches to the flow and the task.
func hookNames(d Defs) []string {
	var names []string
	for _, e := range hooks.Events {
		for _, h := range d.Flow.Hooks(e) {
			names = append(names, h.Name())
		}
		for _, h := range d.Task.Hooks(e) {
			names = append(names, h.Name())
		}
	}
	return names
}
