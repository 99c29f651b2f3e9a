package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
)

// Metrics flowstate reports through the SDK's metrics handler of the worker's client
// (client.Options.MetricsHandler: Prometheus through tally, OpenTelemetry, …). The SDK reports
// workflow-side metrics only once, not again when a workflow replays.
const (
	// MetricStateTransitions counts state transitions, tagged flow (the flow's name), kind (flow,
	// task, subflow), name (the flow's, task's or subflow's name) and state (the state's name:
	// Running, Retrying, AwaitingRetry, Completed, Failed, TimedOut, Crashed, Cancelled, …).
	MetricStateTransitions = "flowstate_state_transitions"
	// MetricHookCalls counts hook calls once they ended, tagged flow, hook, event and outcome
	// (completed, failed).
	MetricHookCalls = "flowstate_hook_calls"
	// MetricHookLatency is the time from the state change to the end of its hook call (retries
	// included), tagged flow, hook and event.
	MetricHookLatency = "flowstate_hook_latency"
)

func recordStateMetrics(ctx workflow.Context, flow string, kind hooks.Kind, name string, st hooks.State) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"flow": flow, "kind": string(kind), "name": name, "state": st.Name,
	}).Counter(MetricStateTransitions).Inc(1)
}

func recordHookMetrics(ctx workflow.Context, flow string, res hooks.HookResult, took time.Duration) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"flow": flow, "hook": res.Hook, "event": string(res.Event),
	})
	h.WithTags(map[string]string{"outcome": string(res.Status)}).Counter(MetricHookCalls).Inc(1)
	if took >= 0 {
		h.Timer(MetricHookLatency).Record(took)
	}
}
