package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
	"github.com/flowstate/flowstate/workflows"
)

// memTracer is an interceptor.Tracer that keeps its spans in memory, as a tracing backend would:
// what the SDK's tracing interceptor and flowstate give it.
type memTracer struct {
	interceptor.BaseTracer
	mu    sync.Mutex
	spans []*memSpan
	next  int
}

type memSpan struct {
	t      *memTracer
	id     int
	parent int
	name   string
	tags   map[string]string
	err    error
	done   bool
}

type spanKey struct{}

func (t *memTracer) Options() interceptor.TracerOptions {
	return interceptor.TracerOptions{SpanContextKey: spanKey{}, HeaderKey: "_mem-tracer"}
}

func (t *memTracer) UnmarshalSpan(m map[string]string) (interceptor.TracerSpanRef, error) {
	var id int
	if _, err := fmt.Sscan(m["span"], &id); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.spans {
		if s.id == id {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no span %d", id)
}

func (t *memTracer) MarshalSpan(s interceptor.TracerSpan) (map[string]string, error) {
	return map[string]string{"span": fmt.Sprint(s.(*memSpan).id)}, nil
}

func (t *memTracer) SpanFromContext(ctx context.Context) interceptor.TracerSpan {
	s, _ := ctx.Value(spanKey{}).(*memSpan)
	if s == nil {
		return nil
	}
	return s
}

func (t *memTracer) ContextWithSpan(ctx context.Context, s interceptor.TracerSpan) context.Context {
	return context.WithValue(ctx, spanKey{}, s)
}

func (t *memTracer) StartSpan(o *interceptor.TracerStartSpanOptions) (interceptor.TracerSpan, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	s := &memSpan{t: t, id: t.next, name: t.SpanName(o), tags: o.Tags}
	if p, ok := o.Parent.(*memSpan); ok {
		s.parent = p.id
	}
	t.spans = append(t.spans, s)
	return s, nil
}

func (s *memSpan) Finish(o *interceptor.TracerFinishSpanOptions) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	s.err, s.done = o.Error, true
}

// named returns the finished spans whose name starts with prefix.
func (t *memTracer) named(prefix string) []memSpan {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []memSpan
	for _, s := range t.spans {
		if s.done && strings.HasPrefix(s.name, prefix) {
			out = append(out, *s)
		}
	}
	return out
}

// With the SDK's tracing interceptor on the client and its tracer given to the worker, every
// state transition and hook call is a span, a child of the flow's workflow span; the hook's own
// activity is a span of the interceptor's; a failing hook's span carries its error.
func TestTracing(t *testing.T) {
	tr := &memTracer{}
	c := flowstatetest.Shared(t).NewClient(t, client.Options{Interceptors: []interceptor.ClientInterceptor{interceptor.NewTracingInterceptor(tr)}})
	fastFail := hooks.Options{RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, MaximumAttempts: 2}, Mode: hooks.ModeActivity}
	broken := hooks.NewFlowHook("trace-broken", func(context.Context, hooks.FlowCall) error { return errors.New("webhook down") }, fastFail)
	failing := adapter.NewTask("trace-failing", func(ctx context.Context, _ empty) (empty, error) {
		return empty{}, errors.New("disk full")
	})
	f := adapter.NewFlow("trace-flow", func(ctx workflow.Context, _ empty) (empty, error) {
		return failing.Run(ctx, empty{})
	}, adapter.FlowOptions{OnFailure: []hooks.FlowHook{broken}})
	tq := flowstatetest.StartWorker(t, c, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{failing}, Tracer: tr}).TaskQueue()
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, empty{})
	require.NoError(t, err)
	_, err = run.Get(t.Context())
	require.ErrorContains(t, err, "disk full")

	// A query of the closed run replays its whole history on the worker: no span is made again.
	_, err = c.QueryWorkflow(t.Context(), run.ID(), run.RunID(), adapter.QueryType)
	require.NoError(t, err)

	// The interceptor's spans of the flow's workflow: the SDK makes one again for the query's
	// replay (with the same idempotency key, for backends that merge them).
	wfSpans := tr.named("RunWorkflow:trace-flow")
	require.NotEmpty(t, wfSpans)
	wf := wfSpans[0].id

	var states []string
	for _, s := range tr.named(workflows.SpanState + ":") {
		require.Equal(t, wf, s.parent, "a state span is a child of the workflow's span: %s", s.name)
		states = append(states, strings.TrimPrefix(s.name, workflows.SpanState+":"))
		require.Equal(t, "trace-flow", s.tags["flowstate.flow"])
	}
	require.Equal(t, []string{
		"flow " + run.ID() + ": Scheduled",
		"flow " + run.ID() + ": Running",
		"task trace-failing#1: Pending",
		"task trace-failing#1: Running",
		"task trace-failing#1: Failed",
		"flow " + run.ID() + ": Failed",
	}, states, "each transition once, in order (none again on replay)")

	hookSpans := tr.named(workflows.SpanHook + ":")
	require.Len(t, hookSpans, 1)
	h := hookSpans[0]
	require.Equal(t, "flowstate.hook:on_failure trace-broken", h.name)
	require.Equal(t, wf, h.parent)
	require.Equal(t, "failed", h.tags["flowstate.outcome"])
	require.ErrorContains(t, h.err, "webhook down")
	require.NotEmpty(t, h.tags["flowstate.idempotency_key"])

	require.NotEmpty(t, tr.named("RunActivity:"+activities.HookActivity), "the hook's activity is a span of the interceptor's")
}
