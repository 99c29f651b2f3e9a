// Package taskstart is Prefect's "execute code when a task starts running": a task with an
// on_running hook that records its start time. With retries=2 and a body that always fails, the
// hook fires three times, each before its attempt.
package taskstart

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
)

// Name names the example in the demo.
const Name = "task-start"

// RecordStartTime is the on_running hook: Prefect's record_start_time.
var RecordStartTime = hooks.NewTaskHook("record-start-time", func(ctx context.Context, c hooks.TaskCall) error {
	effects.Printf(Name, "task %s attempt %d started at %s", c.Task.Name, c.Run.Attempt, c.State.Timestamp.Format(time.RFC3339Nano))
	return nil
})

// FlakyTask fails every attempt.
var FlakyTask = adapter.NewTask("flaky-task", func(ctx context.Context, _ struct{}) (string, error) {
	return "", fmt.Errorf("attempt %d failed", adapter.TaskRunInfo(ctx).Attempt)
}, adapter.TaskOptions{
	Retries:    2,
	RetryDelay: adapter.FixedDelay(200 * time.Millisecond),
	OnRunning:  []hooks.TaskHook{RecordStartTime},
})

// Flow calls the flaky task and fails with it.
var Flow = adapter.NewFlow("task-start-flow", func(ctx workflow.Context, _ struct{}) (string, error) {
	return FlakyTask.Run(ctx, struct{}{})
})
