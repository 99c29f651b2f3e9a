package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
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

// metricKey names one tagged counter or timer of a run's metrics.
type metricKey struct {
	metric, kind, name, state string
}

// metrics holds the tagged counters and timers a run has reported through, made once a tag set:
// tagging a handler allocates, and a run reports a handful of tag sets many times. The SDK's
// handler checks for replay when a value is recorded, so keeping them for the run is safe.
type metrics struct {
	counters map[metricKey]client.MetricsCounter
	timers   map[metricKey]client.MetricsTimer
}

// cached returns the value k has in *m, made by mk the first time.
func cached[T any](m *map[metricKey]T, k metricKey, mk func() T) T {
	v, ok := (*m)[k]
	if !ok {
		if *m == nil {
			*m = map[metricKey]T{}
		}
		v = mk()
		(*m)[k] = v
	}
	return v
}

// state counts a transition of the run (kind flow) or of one of its task or subflow runs.
func (m *metrics) state(ctx workflow.Context, flow string, kind hooks.Kind, name string, st hooks.State) {
	k := metricKey{metric: MetricStateTransitions, kind: string(kind), name: name, state: st.Name}
	cached(&m.counters, k, func() client.MetricsCounter {
		tags := map[string]string{"flow": flow, "kind": string(kind), "name": name, "state": st.Name}
		return workflow.GetMetricsHandler(ctx).WithTags(tags).Counter(k.metric)
	}).Inc(1)
}

// hook counts a hook call that ended and records its latency.
func (m *metrics) hook(ctx workflow.Context, flow string, res hooks.HookResult, took time.Duration) {
	calls := metricKey{metric: MetricHookCalls, kind: string(res.Event), name: res.Hook, state: string(res.Status)}
	cached(&m.counters, calls, func() client.MetricsCounter {
		tags := map[string]string{"flow": flow, "hook": res.Hook, "event": string(res.Event), "outcome": string(res.Status)}
		return workflow.GetMetricsHandler(ctx).WithTags(tags).Counter(calls.metric)
	}).Inc(1)
	if took >= 0 {
		lat := metricKey{metric: MetricHookLatency, kind: string(res.Event), name: res.Hook}
		cached(&m.timers, lat, func() client.MetricsTimer {
			tags := map[string]string{"flow": flow, "hook": res.Hook, "event": string(res.Event)}
			return workflow.GetMetricsHandler(ctx).WithTags(tags).Timer(lat.metric)
		}).Record(took)
	}
}

// Span operations of Options.Tracer's spans, and their tags.
const (
	// SpanState is the operation of a state transition's span, named "<kind> <run>: <state>"
	// (the tracer's SpanName makes "flowstate.state:task book#2: Completed" by default).
	SpanState = "flowstate.state"
	// SpanHook is the operation of a hook call's span, named "<event> <hook>", from the state
	// change that called the hook to the end of the call, retries included.
	SpanHook = "flowstate.hook"
)

// traceState makes a span of a transition, when the worker has a tracer: a child of the
// workflow's span, made once, not again on replay.
func (r *recorder) traceState(ctx workflow.Context, kind hooks.Kind, run, name string, st hooks.State) {
	if r.tracer == nil {
		return
	}
	tags := map[string]string{
		"flowstate.flow": r.history.Flow, "flowstate.kind": string(kind), "flowstate.run": run,
		"flowstate.name": name, "flowstate.state": st.Name,
	}
	if st.Message != "" {
		tags["flowstate.message"] = st.Message
	}
	if st.Attempt > 0 {
		tags["flowstate.attempt"] = strconv.Itoa(st.Attempt)
	}
	r.span(ctx, SpanState, fmt.Sprintf("%s %s: %s", kind, run, st.Name), st.Timestamp, tags, nil)
}

// traceHook makes a span of a hook call that ended, when the worker has a tracer.
func (r *recorder) traceHook(ctx workflow.Context, kind hooks.Kind, run string, res hooks.HookResult, since time.Time, err error) {
	if r.tracer == nil {
		return
	}
	tags := map[string]string{
		"flowstate.flow": r.history.Flow, "flowstate.kind": string(kind), "flowstate.run": run,
		"flowstate.hook": res.Hook, "flowstate.event": string(res.Event), "flowstate.outcome": string(res.Status),
		"flowstate.idempotency_key": res.Key,
	}
	r.span(ctx, SpanHook, fmt.Sprintf("%s %s", res.Event, res.Hook), since, tags, err)
}

func (r *recorder) span(ctx workflow.Context, op, name string, start time.Time, tags map[string]string, err error) {
	if r.tracer == nil || workflow.IsReplaying(ctx) {
		return
	}
	parent, _ := ctx.Value(r.tracer.Options().SpanContextKey).(interceptor.TracerSpan)
	opts := &interceptor.TracerStartSpanOptions{Operation: op, Name: name, Time: start, DependedOn: true, Tags: tags}
	if parent != nil {
		opts.Parent = parent
	}
	span, serr := r.tracer.StartSpan(opts)
	if serr != nil {
		return
	}
	span.Finish(&interceptor.TracerFinishSpanOptions{Error: err})
}
