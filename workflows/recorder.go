package workflows

import (
	"encoding/json"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/names"
)

var (
	stateKey          = temporal.NewSearchAttributeKeyKeyword(names.SAState)
	scheduledStartKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
	dataConverter     = converter.GetDefaultDataConverter()
)

// maxMemoBytes bounds the state history kept in a closed run's memo (Temporal refuses memos over
// 2 MiB by default). Task entries are dropped oldest first to fit; the query returns them all.
const maxMemoBytes = 256 << 10

// recorder keeps a flow run's state history and mirrors the flow's state into its search
// attribute.
type recorder struct {
	history hooks.History
	// last holds the latest state of each task and subflow run, to check their transitions.
	last map[string]hooks.State
	// sa tells whether the FlowState search attribute is kept current.
	sa bool
	// startedAs is the FlowState value the run was started with, if any; upserted is set once
	// the first transition has been published.
	startedAs string
	upserted  bool
}

func (r *recorder) add(e hooks.Entry) {
	e.Seq = len(r.history.Entries) + 1
	r.history.Entries = append(r.history.Entries, e)
}

// flowEntry records a transition of the flow run itself.
func (r *recorder) flowEntry(ctx workflow.Context, id, name string, st hooks.State) {
	if err := CheckTransition(r.history.State, st); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: unexpected flow transition", "run", id, "error", err)
	}
	r.history.State = st
	r.add(hooks.Entry{Kind: hooks.KindFlow, Run: id, Name: name, State: &st})
}

// runEntry records a transition of a task or subflow run.
func (r *recorder) runEntry(ctx workflow.Context, kind hooks.Kind, run, name string, st hooks.State) {
	if r.last == nil {
		r.last = map[string]hooks.State{}
	}
	if err := CheckTransition(r.last[run], st); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: unexpected transition", "run", run, "error", err)
	}
	r.last[run] = st
	r.add(hooks.Entry{Kind: kind, Run: run, Name: name, State: &st})
}

// hookEntry records the outcome of a hook call.
func (r *recorder) hookEntry(ctx workflow.Context, kind hooks.Kind, run, name string, inv hooks.Invocation, err error) {
	res := &hooks.HookResult{Hook: inv.Hook, Event: inv.Event, Status: hooks.HookCompleted, Key: inv.Key}
	if err != nil {
		res.Status, res.Error = hooks.HookFailed, classify.Message(err)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("flowstate: hook failed after its retries; the run's state is unchanged",
			"hook", inv.Hook, "event", inv.Event, "run", run, "error", res.Error)
	}
	r.add(hooks.Entry{Kind: kind, Run: run, Name: name, Hook: res, Time: workflow.Now(ctx)})
}

func (r *recorder) setData(key string, value json.RawMessage) {
	if r.history.Data == nil {
		r.history.Data = map[string]json.RawMessage{}
	}
	r.history.Data[key] = value
}

func (r *recorder) dataCopy() map[string]json.RawMessage {
	if len(r.history.Data) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(r.history.Data))
	for k, v := range r.history.Data {
		out[k] = v
	}
	return out
}

// snapshot returns a copy of the history that later transitions do not change.
func (r *recorder) snapshot() hooks.History {
	h := r.history
	h.Entries = append([]hooks.Entry(nil), r.history.Entries...)
	h.Data = r.dataCopy()
	return h
}

// memo returns the history to keep in the memo: all of it when it fits in maxMemoBytes, else
// with the oldest task and hook entries dropped and counted in Dropped.
func (r *recorder) memo() hooks.History {
	h := r.snapshot()
	raw, err := json.Marshal(h)
	if err != nil || len(raw) <= maxMemoBytes {
		return h
	}
	excess := len(raw) - maxMemoBytes
	kept := h.Entries[:0:0]
	for _, e := range h.Entries {
		if excess > 0 && e.Kind != hooks.KindFlow {
			size, _ := json.Marshal(e)
			excess -= len(size) + 1
			h.Dropped++
			continue
		}
		kept = append(kept, e)
	}
	h.Entries = kept
	return h
}

// upsertState publishes the flow's state in the FlowState search attribute. The first
// transition is not published when the run was started with that value already.
func (r *recorder) upsertState(ctx workflow.Context, st hooks.State) {
	if !r.sa {
		return
	}
	first := !r.upserted
	r.upserted = true
	if first && st.Name == r.startedAs {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, stateKey.ValueSet(st.Name)); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: updating the FlowState search attribute failed", "error", err)
	}
}
