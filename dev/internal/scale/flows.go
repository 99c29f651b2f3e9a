// Package scale runs flowstate at scale on a real Temporal server: long chains of runs that
// continue as new, flows of 10,000 tasks, and the growth of their histories. The server (flowstate
// dev) and the worker (scaleworker) run as processes of their own, built without the race
// detector, so that these runs take the time they take for users; the tests drive them with a
// client.
package scale

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// TaskQueue is the queue the scale worker serves.
const TaskQueue = "scale"

// Loop is the input of LongLoop: Items sequential tasks, continuing as new every Per.
type Loop struct {
	Items int `json:"items"`
	Per   int `json:"per"`
	Done  int `json:"done,omitempty"`
	Run   int `json:"run,omitempty"`
}

// FanOut is the input of the fan-out flows: Tasks tasks, submitted in batches of Batch.
type FanOut struct {
	Tasks int `json:"tasks"`
	Batch int `json:"batch"`
}

func item(_ context.Context, n int) (int, error) { return n, nil }

var (
	// Item is the task of every scale flow: it returns its input.
	Item = adapter.NewTask("scale-item", item)
	// LoopRunning and LoopDone are LongLoop's hooks.
	LoopRunning = hooks.NewFlowHook("scale-loop-running", func(context.Context, hooks.FlowCall) error { return nil })
	LoopDone    = hooks.NewFlowHook("scale-loop-done", func(context.Context, hooks.FlowCall) error { return nil })
	// FanOutDone is FanOutHooked's hook.
	FanOutDone = hooks.NewFlowHook("scale-fan-out-done", func(context.Context, hooks.FlowCall) error { return nil })
)

// LongLoop calls Item once per item, one after another, and continues as new every Per items.
var LongLoop *adapter.Flow[Loop, int]

func init() {
	LongLoop = adapter.NewFlow("scale-long-loop", func(ctx workflow.Context, in Loop) (int, error) {
		for i := 0; i < in.Per && in.Done < in.Items; i++ {
			if _, err := Item.Run(ctx, in.Done); err != nil {
				return 0, err
			}
			in.Done++
		}
		if in.Done < in.Items {
			in.Run++
			return 0, LongLoop.ContinueAsNew(ctx, in)
		}
		return in.Done, nil
	}, adapter.FlowOptions{OnRunning: []hooks.FlowHook{LoopRunning}, OnCompletion: []hooks.FlowHook{LoopDone}})
}

func fanOut(ctx workflow.Context, in FanOut) (int, error) {
	sum := 0
	for start := 0; start < in.Tasks; start += in.Batch {
		var futures []*adapter.Future[int]
		for i := start; i < min(start+in.Batch, in.Tasks); i++ {
			futures = append(futures, Item.Submit(ctx, i))
		}
		for _, f := range futures {
			n, err := f.Get(ctx)
			if err != nil {
				return 0, err
			}
			sum += n
		}
	}
	return sum, nil
}

var (
	// FanOutHooked submits its tasks in batches and has an on_completion hook.
	FanOutHooked = adapter.NewFlow("scale-fan-out-hooked", fanOut, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{FanOutDone}})
	// FanOutPlain is the same without hooks.
	FanOutPlain = adapter.NewFlow("scale-fan-out", fanOut)
)

// RawFanOut is FanOutPlain with the SDK alone.
func RawFanOut(ctx workflow.Context, in FanOut) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	sum := 0
	for start := 0; start < in.Tasks; start += in.Batch {
		var futures []workflow.Future
		for i := start; i < min(start+in.Batch, in.Tasks); i++ {
			futures = append(futures, workflow.ExecuteActivity(ctx, RawItem, i))
		}
		for _, f := range futures {
			var n int
			if err := f.Get(ctx, &n); err != nil {
				return 0, err
			}
			sum += n
		}
	}
	return sum, nil
}

// Names of the plain workflow and activity.
const (
	RawFanOutName = "scale-raw-fan-out"
	RawItem       = "scale-raw-item"
)

// Options are the scale worker's definitions.
func Options() worker.Options {
	return worker.Options{
		Flows: []adapter.AnyFlow{LongLoop, FanOutHooked, FanOutPlain},
		Tasks: []adapter.AnyTask{Item},
	}
}

// RegisterPlain registers the plain workflow and activity.
func RegisterPlain(r sdkworker.Registry) {
	r.RegisterWorkflowWithOptions(RawFanOut, workflow.RegisterOptions{Name: RawFanOutName})
	r.RegisterActivityWithOptions(item, activity.RegisterOptions{Name: RawItem})
}
