package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

// records are the values a flow run records in its history (its plans), read back on replay.
//
// A value is recorded with a mutable side effect: one MarkerRecorded event, encoded by the
// worker's data converter (and so by its payload codec). The SDK does not compare these markers
// with the replayed code's commands, in either direction, and it reads the markers of a workflow
// task before running that task's code: a replay finds a value recorded at a point of the run
// when it reaches that point. A replay that finds no value where the original run would have
// recorded one knows that nothing was recorded there — which is how a run whose plan is zero
// records nothing. The SDK's mutable side effect panics on replay when it finds no marker; get
// turns that panic, and only that one, into "not recorded".
//
// Outside replay, get knows what this execution recorded or found while replaying: every value is
// looked up, on replay, at the point where it was recorded, before the run goes on.
type records struct {
	values map[string]converter.EncodedValue
}

// get decodes the value recorded under id into ptr and reports whether there is one.
func (r *records) get(ctx workflow.Context, id string, ptr any) (bool, error) {
	v, ok := r.values[id]
	if !ok && workflow.IsReplaying(ctx) {
		v, ok = lookupMarker(ctx, id)
		if ok {
			r.remember(id, v)
		}
	}
	if !ok {
		return false, nil
	}
	if err := v.Get(ptr); err != nil {
		return true, fmt.Errorf("flowstate: decoding the recorded %s: %w", id, err)
	}
	return true, nil
}

// put records value under id, with a summary for the Web UI. Call it only when get found nothing.
func (r *records) put(ctx workflow.Context, id, summary string, value any) {
	v := workflow.MutableSideEffectWithOptions(ctx, id, workflow.MutableSideEffectOptions{Summary: summary},
		func(workflow.Context) any { return value },
		func(a, b any) bool { return false })
	r.remember(id, v)
}

func (r *records) remember(id string, v converter.EncodedValue) {
	if r.values == nil {
		r.values = map[string]converter.EncodedValue{}
	}
	r.values[id] = v
}

// missingMarker is the text of the SDK's panic for a mutable side effect that has no marker in
// the history being replayed.
const missingMarker = "MutableSideEffect API call doesn't have a correspondent event"

// lookupMarker reads, on replay, the mutable side effect recorded under id, if there is one.
func lookupMarker(ctx workflow.Context, id string) (v converter.EncodedValue, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if strings.Contains(fmt.Sprint(p), missingMarker) {
				v, ok = nil, false
				return
			}
			panic(p)
		}
	}()
	v = workflow.MutableSideEffect(ctx, id,
		func(workflow.Context) any { panic("flowstate: a record lookup ran outside replay") },
		func(a, b any) bool { return true })
	return v, true
}
