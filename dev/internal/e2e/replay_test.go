package e2e_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// A flow using every workflow-side feature runs on a real server; its history then replays
// through flowstate's interceptors without a non-determinism error — with hooks as activities, and
// as local activities (scheduled from an interceptor: sdk-go issue 828 is about replaying those).
func TestReplayIsDeterministic(t *testing.T) {
	for _, mode := range []hooks.Mode{hooks.ModeActivity, hooks.ModeLocal} {
		t.Run(modeName(mode), func(t *testing.T) { testReplay(t, mode) })
	}
}

func modeName(m hooks.Mode) string {
	if m == hooks.ModeLocal {
		return "local-hooks"
	}
	return "activity-hooks"
}

func testReplay(t *testing.T, mode hooks.Mode) {
	noop := func(context.Context, hooks.TaskCall) error { return nil }
	onRun := hooks.NewTaskHook("replay-on-run", noop)
	onDone := hooks.NewFlowHook("replay-done", func(context.Context, hooks.FlowCall) error { return nil })
	failing := hooks.NewFlowHook("replay-failing", func(context.Context, hooks.FlowCall) error { return errors.New("nope") },
		hooks.Options{RetryPolicy: fastPolicy(2)})
	var flaky atomic.Int32
	task := adapter.NewTask("replay-task", func(ctx context.Context, n int) (int, error) {
		if flaky.Add(1) == 1 {
			return 0, errors.New("first attempt fails")
		}
		return n * 2, nil
	}, adapter.TaskOptions{Retries: 2, RetryDelay: adapter.DelayList{10 * time.Millisecond, 20 * time.Millisecond}, RetryJitterFactor: 0.5, OnRunning: []hooks.TaskHook{onRun}})
	plainTask := adapter.NewTask("replay-plain", func(ctx context.Context, n int) (int, error) { return n + 1, nil }, adapter.TaskOptions{Retries: 1})
	child := adapter.NewFlow("replay-child", func(ctx workflow.Context, n int) (int, error) { return n + 100, nil },
		adapter.FlowOptions{OnCompletion: []hooks.FlowHook{onDone}})
	parent := adapter.NewFlow("replay-parent", func(ctx workflow.Context, n int) (int, error) {
		if err := adapter.SetRunData(ctx, "k", "v"); err != nil {
			return 0, err
		}
		a := task.Submit(ctx, n)
		b := plainTask.Submit(ctx, n)
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		y, _ := b.Get(ctx)
		z, err := child.RunSubflow(ctx, x+y)
		if err != nil {
			return 0, err
		}
		if adapter.FlowRunInfo(ctx).Attempt == 1 { // deterministic, unlike a counter
			return 0, errors.New("first flow attempt fails")
		}
		return z, workflow.Sleep(ctx, 10*time.Millisecond)
	}, adapter.FlowOptions{Retries: 1, RetryDelay: adapter.FixedDelay(10 * time.Millisecond), Timeout: time.Minute,
		OnCompletion: []hooks.FlowHook{onDone, failing}})

	opts := worker.Options{Flows: []adapter.AnyFlow{parent, child}, Tasks: []adapter.AnyTask{task, plainTask},
		HookDefaults: hooks.Options{Mode: mode}}
	c, tq := startWorker(t, opts)
	run, err := parent.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 5)
	require.NoError(t, err)
	out, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, 5*2+5+1+100, out)

	full := fetchHistory(t, c, run.ID(), run.RunID())
	t.Logf("replaying %d events", len(full.GetEvents()))
	markers, plans := 0, 0
	for _, e := range full.GetEvents() {
		if e.GetEventType() == enumspb.EVENT_TYPE_MARKER_RECORDED {
			switch e.GetMarkerRecordedEventAttributes().GetMarkerName() {
			case "LocalActivity":
				markers++
			case "MutableSideEffect":
				plans++
			}
		}
	}
	require.Equal(t, 2, plans, "the flow's plan and the hooked task's")
	if mode == hooks.ModeLocal {
		require.Greater(t, markers, 4, "local hooks leave markers")
	} else {
		require.Zero(t, markers)
	}

	setup, err := worker.NewSetup(opts, true)
	require.NoError(t, err)
	replayer, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{Interceptors: setup.Interceptors})
	require.NoError(t, err)
	setup.Register(replayerRegistrar{replayer}, nil)
	require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, full, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: run.ID(), RunID: run.RunID()},
	}))
}
