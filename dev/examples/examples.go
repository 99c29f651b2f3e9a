// Package examples gathers flowstate's examples, Prefect's state change hook examples as Go users
// write them, for the worker of `flowstate dev` and `flowstate worker` and for the demo:
//
//   - slacknotify: a flow with one retry whose body fails; on_failure tells Slack;
//   - crashcleanup: on_crashed cleans up a resource the crashed run left;
//   - taskstart: a task's on_running hook fires before each of its three attempts;
//   - hookargs: a hook with bound arguments sees a task's Failed state returned to the flow;
//   - nap: a task that sleeps, to cancel, terminate, or watch a run survive its worker;
//   - tripbooking: a saga: a flight, a hotel and a car booked in one transaction, whose
//     on_rollback hooks cancel the bookings made when a later one fails.
//
// quickstart, the README's quick start, is a program of its own with its own task queue.
package examples

import (
	"time"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/examples/hookargs"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/dev/examples/nap"
	"github.com/flowstate/flowstate/dev/examples/slacknotify"
	"github.com/flowstate/flowstate/dev/examples/taskstart"
	"github.com/flowstate/flowstate/dev/examples/tripbooking"
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
	// CancelAfter, when set, has the demo cancel the run this long after it started.
	CancelAfter time.Duration
	// Expect is the flow run's final state name.
	Expect string
	// Hooks are the hooks whose calls show the example working, each expected to complete once.
	Hooks []string
}

// Demos returns the examples the demo runs, in order: every example.
func Demos() []Demo {
	return []Demo{
		{Name: slacknotify.Name, Title: "a flow fails after its retry; on_failure posts to Slack (webhook from a named secret)",
			Flow: slacknotify.FailingFlow, Expect: hooks.NameFailed, Hooks: []string{"notify-slack"}},
		{Name: crashcleanup.Name, Title: "on_crashed deletes the job a crashed flow run left behind",
			Flow: crashcleanup.Flow, Expect: hooks.NameCrashed, Hooks: []string{"delete-cloud-run-job"}},
		{Name: taskstart.Name, Title: "a task's on_running hook fires before each of its 3 attempts",
			Flow: taskstart.Flow, Expect: hooks.NameFailed, Hooks: []string{"record-start-time", "record-start-time", "record-start-time"}},
		{Name: hookargs.Name, Title: "a hook with bound arguments x=\"foo\", y=42 sees the task's Failed state",
			Flow: hookargs.Flow, Input: hookargs.Params{X: "foo", Y: 42}, Expect: hooks.NameCompleted, Hooks: []string{"my-hook"}},
		{Name: nap.Name, Title: "a run cancelled mid-task: on_cancellation runs, then the task sees its context cancelled",
			Flow: nap.Flow, Input: nap.Params{Seconds: 30}, CancelAfter: time.Second, Expect: hooks.NameCancelled, Hooks: []string{"woken-early"}},
		{Name: tripbooking.Name, Title: "a saga: the car cannot be booked, so the hotel and the flight are cancelled, in that order",
			Flow: tripbooking.Flow, Input: tripbooking.Trip{Traveller: "ada", Fail: "car"}, Expect: hooks.NameFailed,
			Hooks: []string{"cancel-booking", "cancel-booking"}},
	}
}

// Options returns the worker options registering every example, with secrets resolving the
// named secrets hooks use (the Slack webhook).
func Options(secrets hooks.SecretResolver) worker.Options {
	return worker.Options{
		Flows: []adapter.AnyFlow{slacknotify.FailingFlow, crashcleanup.Flow, taskstart.Flow, hookargs.Flow, nap.Flow, tripbooking.Flow},
		Tasks: []adapter.AnyTask{
			crashcleanup.CreateJob, crashcleanup.TaskThatCrashes,
			taskstart.FlakyTask, hookargs.BadTask, nap.Nap, tripbooking.Book,
		},
		Hooks:   hookargs.Hooks,
		Secrets: secrets,
	}
}

// Effects returns what the named example's hooks did in this process, oldest first.
func Effects(name string) []string { return effects.Of(name) }
