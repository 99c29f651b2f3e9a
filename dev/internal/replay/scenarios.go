package replay

import (
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

// Scenarios are the scenarios of the changes corpus (testdata/v0.2).
func Scenarios() []Scenario { return nil }
