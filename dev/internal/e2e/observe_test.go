package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

// capture is a metrics handler that keeps what it is given, as a Prometheus or OpenTelemetry
// exporter would receive it through the SDK.
type capture struct {
	mu       *sync.Mutex
	tags     map[string]string
	counters map[string]int64
	timers   map[string][]time.Duration
}

func newCapture() *capture {
	return &capture{mu: &sync.Mutex{}, tags: map[string]string{}, counters: map[string]int64{}, timers: map[string][]time.Duration{}}
}

func (c *capture) WithTags(tags map[string]string) client.MetricsHandler {
	merged := map[string]string{}
	for k, v := range c.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &capture{mu: c.mu, tags: merged, counters: c.counters, timers: c.timers}
}

// key names a metric with the tags that matter to the test, sorted: "name{k=v,…}".
func (c *capture) key(name string) string {
	var parts []string
	for k, v := range c.tags {
		switch k {
		case "flow", "kind", "name", "state", "hook", "event", "outcome":
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

func (c *capture) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.counters[c.key(name)] += d
	})
}

func (c *capture) Gauge(string) client.MetricsGauge { return gaugeFunc(func(float64) {}) }

func (c *capture) Timer(name string) client.MetricsTimer {
	return timerFunc(func(d time.Duration) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timers[c.key(name)] = append(c.timers[c.key(name)], d)
	})
}

func (c *capture) counter(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counters[key]
}

func (c *capture) timerCount(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers[key])
}

// Metrics reach the handler of the worker's client: state transitions by flow, task and state,
// hook calls by outcome with their latency, for a flow with a failing task, a failing hook and a
// crash.
func TestMetrics(t *testing.T) {
	m := newCapture()
	c := flowstatetest.Shared(t).NewClient(t, client.Options{MetricsHandler: m})
	fastFail := hooks.Options{RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}}
	broken := hooks.NewFlowHook("metrics-broken", func(context.Context, hooks.FlowCall) error { return errors.New("webhook down") }, fastFail)
	fine := hooks.NewFlowHook("metrics-fine", func(context.Context, hooks.FlowCall) error { return nil })
	flaky := adapter.NewTask("metrics-flaky", func(ctx context.Context, _ empty) (empty, error) {
		return empty{}, fmt.Errorf("attempt %d failed", adapter.TaskRunInfo(ctx).Attempt)
	}, adapter.TaskOptions{Retries: 1})
	ok := adapter.NewTask("metrics-ok", func(context.Context, empty) (empty, error) { return empty{}, nil })
	failing := adapter.NewFlow("metrics-failing", func(ctx workflow.Context, _ empty) (empty, error) {
		for range 2 {
			if _, err := ok.Run(ctx, empty{}); err != nil {
				return empty{}, err
			}
		}
		return flaky.Run(ctx, empty{})
	}, adapter.FlowOptions{OnFailure: []hooks.FlowHook{broken, fine}})
	crashing := adapter.NewFlow("metrics-crashing", func(ctx workflow.Context, _ empty) (empty, error) {
		panic("metrics test crash")
	}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{fine}})
	tq := flowstatetest.StartWorker(t, c, worker.Options{Flows: []adapter.AnyFlow{failing, crashing}, Tasks: []adapter.AnyTask{ok, flaky}}).TaskQueue()

	for _, f := range []adapter.AnyFlow{failing, crashing} {
		run, err := adapter.StartFlow(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, f.Name(), empty{})
		require.NoError(t, err)
		require.Error(t, run.Get(t.Context(), nil))
	}

	for key, want := range map[string]int64{
		"flowstate_state_transitions{flow=metrics-failing,kind=flow,name=metrics-failing,state=Running}":   1,
		"flowstate_state_transitions{flow=metrics-failing,kind=flow,name=metrics-failing,state=Failed}":    1,
		"flowstate_state_transitions{flow=metrics-failing,kind=task,name=metrics-ok,state=Completed}":      2,
		"flowstate_state_transitions{flow=metrics-failing,kind=task,name=metrics-flaky,state=Running}":     1,
		"flowstate_state_transitions{flow=metrics-failing,kind=task,name=metrics-flaky,state=Retrying}":    1,
		"flowstate_state_transitions{flow=metrics-failing,kind=task,name=metrics-flaky,state=Failed}":      1,
		"flowstate_state_transitions{flow=metrics-crashing,kind=flow,name=metrics-crashing,state=Crashed}": 1,
		"flowstate_hook_calls{event=on_failure,flow=metrics-failing,hook=metrics-broken,outcome=failed}":   1,
		"flowstate_hook_calls{event=on_failure,flow=metrics-failing,hook=metrics-fine,outcome=completed}":  1,
		"flowstate_hook_calls{event=on_crashed,flow=metrics-crashing,hook=metrics-fine,outcome=completed}": 1,
	} {
		require.Equal(t, want, m.counter(key), key)
	}
	require.Equal(t, 1, m.timerCount("flowstate_hook_latency{event=on_failure,flow=metrics-failing,hook=metrics-fine}"))
}

// The Temporal Web UI shows a flow run's current details (the SDK's workflow metadata query):
// the flow's state and a table of its task runs, while the run is open and after it closed.
func TestCurrentDetails(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	wait := adapter.NewTask("details-wait", func(ctx context.Context, _ empty) (empty, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return empty{}, nil
	})
	quick := adapter.NewTask("details-quick", func(context.Context, empty) (empty, error) { return empty{}, nil })
	f := adapter.NewFlow("details-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		if _, err := quick.Run(ctx, empty{}); err != nil {
			return empty{}, err
		}
		return wait.Run(ctx, empty{})
	})
	c, tq := startWorker(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{wait, quick}})
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, empty{})
	require.NoError(t, err)

	details := func() string {
		v, err := c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), "__temporal_workflow_metadata")
		require.NoError(t, err)
		var md sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&md))
		return md.GetCurrentDetails()
	}
	require.Eventually(t, func() bool { return strings.Contains(details(), "details-wait#1 | Pending") }, time.Minute, 50*time.Millisecond)
	open := details()
	require.Contains(t, open, "flow `details-flow`: **Running**")
	require.Contains(t, open, "| details-quick#1 | Completed | 1 |")

	once.Do(func() { close(release) })
	_, err = run.Get(t.Context())
	require.NoError(t, err)
	closed := details()
	require.Contains(t, closed, "**Completed**", closed)
	require.Contains(t, closed, "| details-wait#1 | Completed | 1 |", closed)

	// The run's static summary names the flow; the task activities name their task.
	desc, err := c.DescribeWorkflow(t.Context(), run.ID(), run.RunID())
	require.NoError(t, err)
	summary, err := desc.GetStaticSummary()
	require.NoError(t, err)
	require.Equal(t, "flowstate flow details-flow", summary)
	raw := rawHistory(t, c, run.ID())
	require.Contains(t, string(raw), "task details-wait")
}
