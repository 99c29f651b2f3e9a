package workflows

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/names"
)

var (
	stateKey          = temporal.NewSearchAttributeKeyKeyword(names.SAState)
	scheduledStartKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
)

// maxMemoBytes bounds the state history a closed run keeps in its memo (Temporal refuses memos
// over 2 MiB by default, the run's data included). A longer history keeps its flow entries and
// its latest other entries; the memo counts the rest (Omitted, Summary), which the query pages
// through.
const maxMemoBytes = 448 << 10

// maxArchiveBytes bounds the compressed state history a closed run keeps in its memo when the
// history does not fit in maxMemoBytes: about 15,000 task runs' worth. With maxMemoBytes it keeps
// the memo near 1 MiB, and each payload under the SDK's 512 KiB warning.
const maxArchiveBytes = 448 << 10

// minEntryBytes is less than any entry takes in JSON.
const minEntryBytes = 64

// maxPageBytes bounds one page of the flowstate query (Temporal refuses query results over 2 MiB).
const maxPageBytes = 1 << 20

// recorder keeps a flow run's state history, mirrors the flow's state into its FlowState search
// attribute, its current details (the Web UI) and the worker's metrics.
type recorder struct {
	history hooks.History
	// tracer, when set, makes spans of transitions and hook calls (Options.Tracer).
	tracer interceptor.Tracer
	// metrics reports transitions and hook calls through the worker's metrics handler.
	metrics metrics
	// seqBase is the number of entries the runs before this one in a continue-as-new chain had.
	seqBase int
	// last holds the latest state of each task and subflow run, to check their transitions;
	// counts counts them by state name, and recent lists the runs that changed last, for the
	// current details.
	last   map[string]hooks.State
	counts map[string]int
	recent []string
	// hooksOf holds the latest hook outcome of each run, for the current details; rows holds the
	// details' table row of each run listed, dropped when the run changes; flowHooks the latest
	// outcomes of the flow's own hook calls, as the details show them.
	hooksOf   map[string]hooks.HookResult
	rows      map[string]string
	flowHooks []string
	// sa tells whether the FlowState search attribute is kept current; startedAs is the value the
	// run was started with, if any; upserted is set once the first transition was published.
	sa        bool
	startedAs string
	upserted  bool
	// details, when set, keeps the run's current details up to date; detailsLen is the length of
	// their last rendering, which the next one most likely has too.
	details    bool
	detailsLen int
	// holdDetails defers rendering the details to the next transition, which is due before the
	// run next blocks.
	holdDetails bool
}

func (r *recorder) add(e hooks.Entry) {
	e.Seq = r.seqBase + len(r.history.Entries) + 1
	r.history.Entries = append(r.history.Entries, e)
}

// flowEntry records a transition of the flow run itself.
func (r *recorder) flowEntry(ctx workflow.Context, id, name string, st hooks.State) {
	if err := CheckTransition(r.history.State, st); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: unexpected flow transition", "run", id, "error", err)
	}
	r.history.State = st
	r.add(hooks.Entry{Kind: hooks.KindFlow, Run: id, Name: name, State: &st})
	r.count(ctx, hooks.KindFlow, id, name, st)
}

// runEntry records a transition of a task or subflow run.
func (r *recorder) runEntry(ctx workflow.Context, kind hooks.Kind, run, name string, st hooks.State) {
	if r.last == nil {
		r.last = map[string]hooks.State{}
	}
	prev, seen := r.last[run]
	if err := CheckTransition(prev, st); err != nil {
		workflow.GetLogger(ctx).Error("flowstate: unexpected transition", "run", run, "error", err)
	}
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	if seen {
		r.counts[prev.Name]--
	}
	r.counts[st.Name]++
	r.last[run] = st
	r.touch(run)
	r.add(hooks.Entry{Kind: kind, Run: run, Name: name, State: &st})
	r.count(ctx, kind, run, name, st)
}

// hookEntry records the outcome of a hook call, which ran since the state it belongs to.
func (r *recorder) hookEntry(ctx workflow.Context, kind hooks.Kind, run, name string, inv hooks.Invocation, err error) {
	res := &hooks.HookResult{Hook: inv.Hook, Event: inv.Event, Status: hooks.HookCompleted, Key: inv.Key}
	if err != nil {
		res.Status, res.Error = hooks.HookFailed, classify.Message(err)
		workflow.GetLogger(ctx).Warn("flowstate: hook failed after its retries; the run's state is unchanged",
			"hook", inv.Hook, "event", inv.Event, "run", run, "error", res.Error)
	}
	now := workflow.Now(ctx)
	r.add(hooks.Entry{Kind: kind, Run: run, Name: name, Hook: res, Time: now})
	if kind != hooks.KindFlow {
		if r.hooksOf == nil {
			r.hooksOf = map[string]hooks.HookResult{}
		}
		r.hooksOf[run] = *res
		r.touch(run)
	} else if r.details {
		r.flowHooks = append(r.flowHooks, string(res.Event)+" "+res.Hook+": "+string(res.Status))
		if n := len(r.flowHooks); n > maxFlowHooksShown {
			r.flowHooks = slices.Delete(r.flowHooks, 0, n-maxFlowHooksShown)
		}
	}
	r.metrics.hook(ctx, r.history.Flow, *res, now.Sub(inv.State.Timestamp))
	r.traceHook(ctx, kind, run, *res, inv.State.Timestamp, err)
	r.refreshDetails(ctx)
}

// touch moves run, which changed, to the end of the recently changed runs, and forgets the
// details' rows of the runs it changed or no longer lists.
func (r *recorder) touch(run string) {
	delete(r.rows, run) // it changed
	if i := slices.Index(r.recent, run); i >= 0 {
		r.recent = slices.Delete(r.recent, i, i+1)
	}
	r.recent = append(r.recent, run)
	if n := len(r.recent) - detailsRows; n > 0 {
		for _, gone := range r.recent[:n] {
			delete(r.rows, gone) // no longer listed
		}
		r.recent = slices.Delete(r.recent, 0, n)
	}
}

func (r *recorder) count(ctx workflow.Context, kind hooks.Kind, run, name string, st hooks.State) {
	r.metrics.state(ctx, r.history.Flow, kind, name, st)
	r.traceState(ctx, kind, run, name, st)
	r.refreshDetails(ctx)
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

// snapshot returns a copy of the whole history that later transitions do not change.
func (r *recorder) snapshot() hooks.History {
	h := r.history
	h.Entries = slices.Clone(r.history.Entries)
	h.Data = r.dataCopy()
	h.Total = len(h.Entries)
	return h
}

// page returns the entries after req.After, as many as req.Limit and maxPageBytes allow.
func (r *recorder) page(req hooks.PageRequest) hooks.History {
	h := r.history
	h.Data = r.dataCopy()
	h.Total = len(r.history.Entries)
	start := max(req.After-r.seqBase, 0)
	if start > len(r.history.Entries) {
		start = len(r.history.Entries)
	}
	size, end := 0, start
	for end < len(r.history.Entries) {
		if req.Limit > 0 && end-start >= req.Limit {
			break
		}
		raw, _ := json.Marshal(r.history.Entries[end])
		if size+len(raw) > maxPageBytes && end > start {
			break
		}
		size += len(raw) + 1
		end++
	}
	h.Entries = slices.Clone(r.history.Entries[start:end])
	if end < len(r.history.Entries) {
		h.Next = r.seqBase + end
	}
	return h
}

// memoFields returns the memo fields a closed run keeps its state history in: the history as
// memo returns it and, when that leaves entries out, all of it compressed (archive), if it fits.
func (r *recorder) memoFields() map[string]any {
	if raw, ok := r.wholeMemo(); ok {
		// The common case, encoded once: the converter takes JSON as it is.
		return map[string]any{names.MemoHistory: raw}
	}
	h := r.memo()
	fields := map[string]any{names.MemoHistory: h}
	if h.Omitted > 0 {
		if gz := r.archive(); gz != nil {
			fields[names.MemoArchive] = gz
		}
	}
	return fields
}

// archive returns the whole state history, without its data, as gzip-compressed JSON, or nil when
// that is over maxArchiveBytes.
func (r *recorder) archive() []byte {
	h := r.history
	h.Data = nil
	h.Total = len(h.Entries)
	raw, err := json.Marshal(h)
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil || zw.Close() != nil || buf.Len() > maxArchiveBytes {
		return nil
	}
	return buf.Bytes()
}

// wholeMemo returns the whole history, without its data, as the JSON memo returns it, when that
// fits in maxMemoBytes.
func (r *recorder) wholeMemo() (json.RawMessage, bool) {
	if len(r.history.Entries) > maxMemoBytes/minEntryBytes {
		return nil, false // cannot fit: not worth encoding whole
	}
	h := r.history
	h.Data = nil
	h.Total = len(h.Entries)
	raw, err := json.Marshal(h)
	if err != nil || len(raw) > maxMemoBytes {
		return nil, false
	}
	return raw, true
}

// memo returns the history to keep in the closed run's memo: without its data (kept in the data
// memo fields), and, when it does not fit in maxMemoBytes, with its flow entries and its latest
// other entries, the rest counted in Omitted and Summary.
func (r *recorder) memo() hooks.History {
	h := r.history
	h.Data = nil
	h.Total = len(r.history.Entries)
	h.Entries = r.history.Entries
	sizes := make([]int, len(h.Entries))
	total := 0
	for i, e := range h.Entries {
		raw, _ := json.Marshal(e)
		sizes[i] = len(raw) + 1
		total += sizes[i]
	}
	if total <= maxMemoBytes {
		h.Entries = slices.Clone(h.Entries)
		return h
	}
	keep := make([]bool, len(h.Entries))
	budget := maxMemoBytes
	for i, e := range h.Entries {
		if e.Kind == hooks.KindFlow {
			keep[i] = true
			budget -= sizes[i]
		}
	}
	for i := len(h.Entries) - 1; i >= 0; i-- {
		if !keep[i] && sizes[i] <= budget {
			keep[i] = true
			budget -= sizes[i]
		}
		if budget <= 0 {
			break
		}
	}
	h.Entries = nil
	h.Summary = map[string]int{}
	for i, e := range r.history.Entries {
		if keep[i] {
			h.Entries = append(h.Entries, e)
			continue
		}
		h.Omitted++
		h.Summary[summaryKey(e)]++
	}
	return h
}

func summaryKey(e hooks.Entry) string {
	if e.State != nil {
		return string(e.Kind) + " " + e.State.Name
	}
	return string(e.Kind) + " hook " + string(e.Hook.Status)
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

// detailsRows bounds the task runs the current details list.
const detailsRows = 15

// maxFlowHooksShown bounds the flow hook calls the current details list.
const maxFlowHooksShown = 5

// refreshDetails renders the run's current details, at once: they cost no command (the SDK serves
// them through a built-in query), and rendering them is cheap, each listed run's row kept until
// the run changes. Rendering them in a workflow goroutine of their own, once per workflow task,
// cost more: the SDK resumes every goroutine of the run once more after one was woken, and it
// wakes them once per local activity result (each hook call in the default mode).
func (r *recorder) refreshDetails(ctx workflow.Context) {
	if r.details && !r.holdDetails {
		workflow.SetCurrentDetails(ctx, r.renderDetails())
	}
}

// renderDetails returns the run's current details: the Markdown the Temporal Web UI shows in
// "Current Details".
func (r *recorder) renderDetails() string {
	var b strings.Builder
	b.Grow(r.detailsLen + 64)
	defer func() { r.detailsLen = b.Len() }()
	st := r.history.State
	b.WriteString("**flowstate** flow `")
	b.WriteString(r.history.Flow)
	b.WriteString("`: **")
	b.WriteString(st.Name)
	b.WriteString("**")
	if st.Attempt > 1 {
		b.WriteString(" (attempt ")
		b.WriteString(strconv.Itoa(st.Attempt))
		b.WriteString(")")
	}
	if st.Message != "" {
		b.WriteString(": ")
		b.WriteString(mdCell(st.Message))
	}
	b.WriteString("\n\n")
	if len(r.last) > 0 {
		names := make([]string, 0, len(r.counts))
		for n, c := range r.counts {
			if c > 0 {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		b.WriteString(strconv.Itoa(len(r.last)))
		b.WriteString(" task and subflow runs: ")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n)
			b.WriteString(" ")
			b.WriteString(strconv.Itoa(r.counts[n]))
		}
		b.WriteString("\n\n| run | state | attempt | since | last hook |\n| --- | --- | --- | --- | --- |\n")
		if len(r.last) > len(r.recent) {
			fmt.Fprintf(&b, "| … %d more | | | | |\n", len(r.last)-len(r.recent))
		}
		for _, run := range r.recent {
			b.WriteString(r.row(run))
		}
		b.WriteString("\n")
	}
	if len(r.flowHooks) > 0 {
		b.WriteString("Flow hooks: ")
		b.WriteString(mdCell(strings.Join(r.flowHooks, "; ")))
		b.WriteString("\n")
	}
	return b.String()
}

// row returns the details' table row of a task or subflow run.
func (r *recorder) row(run string) string {
	if row, ok := r.rows[run]; ok {
		return row
	}
	s := r.last[run]
	hook := ""
	if h, ok := r.hooksOf[run]; ok {
		hook = fmt.Sprintf("%s %s: %s", h.Event, h.Hook, h.Status)
		if h.Error != "" {
			hook += " (" + h.Error + ")"
		}
	}
	state := s.Name
	if s.Message != "" {
		state += ": " + s.Message
	}
	row := "| " + mdCell(run) + " | " + mdCell(state) + " | " + attemptCell(s.Attempt) + " | " +
		s.Timestamp.UTC().Format(time.TimeOnly) + " | " + mdCell(hook) + " |\n"
	if r.rows == nil {
		r.rows = map[string]string{}
	}
	r.rows[run] = row
	return row
}

func attemptCell(a int) string {
	if a == 0 {
		return ""
	}
	return strconv.Itoa(a)
}

// mdCell makes s safe in one Markdown table cell.
func mdCell(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "\\|")
}
