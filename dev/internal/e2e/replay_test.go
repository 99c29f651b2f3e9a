package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// A flow using every workflow-side feature runs on a real server; its history then replays
// through flowstate's interceptors without a non-determinism error — with hooks as activities, as
// local activities, and in the default mode (ModeAuto): local activities scheduled from an
// interceptor (sdk-go issue 828 is about replaying those), and calls that move from a failed
// local attempt to an activity after a durable wait. A hook fails once then succeeds, another
// fails every time, so that ModeAuto's history holds both kinds of move.
func TestReplayIsDeterministic(t *testing.T) {
	for _, mode := range []hooks.Mode{hooks.ModeActivity, hooks.ModeLocal, hooks.ModeDefault} {
		t.Run(modeName(mode), func(t *testing.T) { testReplay(t, mode) })
	}
}

func modeName(m hooks.Mode) string {
	switch m {
	case hooks.ModeLocal:
		return "local-hooks"
	case hooks.ModeDefault:
		return "default-auto-hooks"
	case hooks.ModeAuto:
		return "auto-hooks"
	}
	return "activity-hooks"
}

func testReplay(t *testing.T, mode hooks.Mode) {
	noop := func(context.Context, hooks.TaskCall) error { return nil }
	onRun := hooks.NewTaskHook("replay-on-run", noop)
	onDone := hooks.NewFlowHook("replay-done", func(context.Context, hooks.FlowCall) error { return nil })
	failing := hooks.NewFlowHook("replay-failing", func(context.Context, hooks.FlowCall) error { return errors.New("nope") },
		hooks.Options{RetryPolicy: fastPolicy(2)})
	// flakyCalls fails the first attempt of each flaky hook call (the flow runs on_running twice,
	// one call per attempt).
	var flakyCalls sync.Map
	flakyHook := hooks.NewFlowHook("replay-flaky", func(_ context.Context, c hooks.FlowCall) error {
		if _, seen := flakyCalls.LoadOrStore(c.Hook.IdempotencyKey, true); !seen {
			return errors.New("the first attempt of each call fails")
		}
		return nil
	}, hooks.Options{RetryPolicy: fastPolicy(3)})
	var flaky atomic.Int32
	task := adapter.NewTask("replay-task", func(ctx context.Context, n int) (int, error) {
		if flaky.Add(1) == 1 {
			return 0, errors.New("first attempt fails")
		}
		return n * 2, nil
	}, adapter.TaskOptions{Retries: 2, RetryDelay: adapter.DelayList{10 * time.Millisecond, 20 * time.Millisecond}, RetryJitterFactor: 0.5, OnRunning: []hooks.TaskHook{onRun}})
	// fanTask runs three at once, with hooks that take longer the earlier the task was submitted,
	// so that local hooks complete in another order than they were scheduled in.
	slow := hooks.NewTaskHook("replay-slow", func(_ context.Context, c hooks.TaskCall) error {
		var n int
		if err := json.Unmarshal(c.Run.Parameters, &n); err != nil {
			return err
		}
		time.Sleep(time.Duration(3-n) * 15 * time.Millisecond)
		return nil
	})
	fanTask := adapter.NewTask("replay-fan", func(ctx context.Context, n int) (int, error) { return n, nil },
		adapter.TaskOptions{OnRunning: []hooks.TaskHook{slow}, OnCompletion: []hooks.TaskHook{slow}})
	plainTask := adapter.NewTask("replay-plain", func(ctx context.Context, n int) (int, error) { return n + 1, nil }, adapter.TaskOptions{Retries: 1})
	child := adapter.NewFlow("replay-child", func(ctx workflow.Context, n int) (int, error) { return n + 100, nil },
		adapter.FlowOptions{OnCompletion: []hooks.FlowHook{onDone}})
	parent := adapter.NewFlow("replay-parent", func(ctx workflow.Context, n int) (int, error) {
		if err := adapter.SetRunData(ctx, "k", "v"); err != nil {
			return 0, err
		}
		a := task.Submit(ctx, n)
		b := plainTask.Submit(ctx, n)
		var fan []*adapter.Future[int]
		for i := range 3 {
			fan = append(fan, fanTask.Submit(ctx, i))
		}
		x, err := a.Get(ctx)
		if err != nil {
			return 0, err
		}
		for _, f := range fan {
			if _, err := f.Get(ctx); err != nil {
				return 0, err
			}
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
		OnRunning: []hooks.FlowHook{flakyHook}, OnCompletion: []hooks.FlowHook{onDone, failing}})

	opts := worker.Options{Flows: []adapter.AnyFlow{parent, child}, Tasks: []adapter.AnyTask{task, plainTask, fanTask},
		HookDefaults: hooks.Options{Mode: mode}}
	c, tq := startWorker(t, opts)
	run, err := parent.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, 5)
	require.NoError(t, err)
	out, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, 5*2+5+1+100, out)

	full := fetchHistory(t, c, run.ID(), run.RunID())
	t.Logf("replaying %d events", len(full.GetEvents()))
	markers, failedMarkers, plans, hookActivities, moved := 0, 0, 0, 0, 0
	// outOfOrder counts local activity markers recorded after one scheduled later than they were.
	outOfOrder, lastLocal := 0, 0
	for _, e := range full.GetEvents() {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			switch m := e.GetMarkerRecordedEventAttributes(); m.GetMarkerName() {
			case "LocalActivity":
				markers++
				if m.GetFailure() != nil {
					failedMarkers++
				}
				var data struct{ ActivityID string }
				require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["data"], &data))
				seq, err := strconv.Atoi(data.ActivityID)
				require.NoError(t, err)
				if seq < lastLocal {
					outOfOrder++
				}
				lastLocal = seq
			case "MutableSideEffect":
				plans++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := e.GetActivityTaskScheduledEventAttributes()
			if a.GetActivityType().GetName() != activities.HookActivity {
				continue
			}
			hookActivities++
			var inv hooks.Invocation
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &inv))
			if inv.AttemptBase > 0 {
				moved++
			}
		}
	}
	t.Logf("%d local hook markers (%d failed, %d recorded out of their scheduling order), %d hook activities (%d moved after a local attempt), %d plans",
		markers, failedMarkers, outOfOrder, hookActivities, moved, plans)
	if markers > 0 {
		require.Positive(t, outOfOrder, "the fan tasks' hooks must complete out of order, so that the replay shows it keeps their order")
	}
	require.Equal(t, 3, plans, "the flow's plan and the hooked tasks'")
	// Hook calls in the parent's history (the child's are in its own): the flow's on_running
	// twice, once per flow attempt (flaky: each call's first attempt fails), its on_completion
	// hooks once each, the task's on_running three times (attempts 1 and 2 in the first flow
	// attempt, attempt 1 in the second), the fan tasks' on_running and on_completion for 3 tasks
	// in each flow attempt: 19.
	const calls = 2 + 1 + 1 + 3 + 2*3*2
	switch mode {
	case hooks.ModeLocal:
		require.Equal(t, calls, markers, "one marker per call, its retries inside")
		require.Zero(t, hookActivities)
	case hooks.ModeActivity:
		require.Zero(t, markers)
		require.Equal(t, calls, hookActivities, "one activity per call, retried by the server")
	default:
		// ModeAuto: every call starts local; the flaky calls (2) and the failing one (1) fail
		// their local attempt and move to an activity.
		require.Equal(t, calls, markers)
		require.Equal(t, 3, failedMarkers)
		require.Equal(t, 3, hookActivities)
		require.Equal(t, 3, moved, "the activities go on with the calls' attempts")
	}
	h, err := run.History(t.Context())
	require.NoError(t, err)
	statuses := map[string][]hooks.HookStatus{}
	for _, r := range h.Hooks() {
		statuses[r.Hook] = append(statuses[r.Hook], r.Status)
	}
	require.Equal(t, []hooks.HookStatus{hooks.HookCompleted, hooks.HookCompleted}, statuses["replay-flaky"], h.Timeline())
	require.Equal(t, []hooks.HookStatus{hooks.HookFailed}, statuses["replay-failing"], h.Timeline())

	setup, err := worker.NewSetup(opts, true)
	require.NoError(t, err)
	replayer, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{Interceptors: setup.Interceptors})
	require.NoError(t, err)
	setup.Register(replayerRegistrar{replayer}, nil)
	require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, full, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: run.ID(), RunID: run.RunID()},
	}))
}
