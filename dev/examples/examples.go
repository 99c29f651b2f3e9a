// Package examples gathers flowstate's examples, the seed examples of SPEC §5 as Go users write
// them, for the worker of `flowstate dev` and `flowstate worker` and for the demo.
//
//   - slacknotify: a flow with one retry whose body fails; on_failure tells Slack (§5.1);
//   - crashcleanup: on_crashed cleans up a resource the crashed run left (§5.2);
//   - taskstart: a task's on_running hook fires before each of its three attempts (§5.3);
//   - hookargs: a hook with bound arguments sees a task's Failed state returned to the flow (§5.4);
//   - nap: a task that sleeps, to watch a run survive its worker.
package examples

import (
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/examples/hookargs"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/dev/examples/nap"
	"github.com/flowstate/flowstate/dev/examples/slacknotify"
	"github.com/flowstate/flowstate/dev/examples/taskstart"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// TaskQueue is the task queue the examples' worker serves.
const TaskQueue = "flowstate-examples"

// Demo is one example as the demo runs it.
type Demo struct {
	// Name names the example.
	Name string
	// Title says what it shows, in one line.
	Title string
	// Flow is the flow the demo starts.
	Flow adapter.AnyFlow
	// Input is the flow's input.
	Input any
	// Expect is the flow run's final state name.
	Expect string
	// Hooks are the hooks whose calls show the example working, each expected to complete once.
	Hooks []string
}

// Demos returns the examples the demo runs, in order.
func Demos() []Demo {
	return []Demo{
		{Name: slacknotify.Name, Title: "SPEC §5.1 a flow fails after its retry; on_failure posts to Slack (webhook from a named secret)",
			Flow: slacknotify.FailingFlow, Expect: hooks.NameFailed, Hooks: []string{"notify-slack"}},
		{Name: crashcleanup.Name, Title: "SPEC §5.2 on_crashed deletes the job a crashed flow run left behind",
			Flow: crashcleanup.Flow, Expect: hooks.NameCrashed, Hooks: []string{"delete-cloud-run-job"}},
		{Name: taskstart.Name, Title: "SPEC §5.3 a task's on_running hook fires before each of its 3 attempts",
			Flow: taskstart.Flow, Expect: hooks.NameFailed, Hooks: []string{"record-start-time", "record-start-time", "record-start-time"}},
		{Name: hookargs.Name, Title: "SPEC §5.4 a hook with bound arguments x=\"foo\", y=42 sees the task's Failed state",
			Flow: hookargs.Flow, Input: hookargs.Params{X: "foo", Y: 42}, Expect: hooks.NameCompleted, Hooks: []string{"my-hook"}},
	}
}

// Options returns the worker options registering every example, with secrets resolving the
// named secrets hooks use (the Slack webhook).
func Options(secrets hooks.SecretResolver) worker.Options {
	return worker.Options{
		Flows: []adapter.AnyFlow{slacknotify.FailingFlow, crashcleanup.Flow, taskstart.Flow, hookargs.Flow, nap.Flow},
		Tasks: []adapter.AnyTask{
			crashcleanup.CreateJob, crashcleanup.TaskThatCrashes,
			taskstart.FlakyTask, hookargs.BadTask, nap.Nap,
		},
		Hooks:   hookargs.Hooks,
		Secrets: secrets,
	}
}

// Effects returns what the named example's hooks did in this process, oldest first.
func Effects(name string) []string { return effects.Of(name) }
