package adapter

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// QueryType is the Temporal query type that returns a flow run's state history as JSON, a page
// at a time (hooks.PageRequest):
// `temporal workflow query --type flowstate.states --workflow-id … [--input '{"after": 5000}']`.
const QueryType = names.Query

// MemoKey is the memo key under which a closed flow run keeps its state history.
const MemoKey = names.MemoHistory

// ReadOption configures ReadHistory.
type ReadOption func(*readOptions)

type readOptions struct {
	dc converter.DataConverter
}

// WithDataConverter makes ReadHistory decode closed runs' memos with dc: the DataConverter the
// client was made with, when it has a payload codec (an encrypting one, say). Without it, a memo
// the default converter cannot decode is read through the flowstate query instead, which the
// client decodes itself but which needs a worker of the run's task queue.
func WithDataConverter(dc converter.DataConverter) ReadOption {
	return func(o *readOptions) { o.dc = dc }
}

// ErrUndecodable is wrapped by the error of ReadHistory for a closed run whose state history memo
// does not decode with the DataConverter it was given (a payload codec encoded it) and whose
// flowstate query failed too.
var ErrUndecodable = errors.New("flowstate: the state history does not decode")

// ErrWorkflowTaskFailing is wrapped by the error of ReadHistory for a run whose workflow task
// keeps failing, so that no worker can answer the flowstate query: the error gives the cause.
var ErrWorkflowTaskFailing = errors.New("flowstate: the run's workflow task keeps failing")

// ReadHistory returns the whole state history of a flow run, open or closed; runID may be empty
// for the latest run. It puts the parts together: the pages of the flowstate query, a closed run's
// memo (bounded in size: the rest comes from the query), and the earlier runs of a chain that
// continued as new. A run terminated or timed out on the server reads Crashed: its crash handler
// records it, with the outcome of its on_crashed hooks; until the handler has finished, or for a
// flow without one, ReadHistory adds the Crashed state itself.
//
// The query needs a worker of the run's task queue. When the memo cannot be completed from it, the
// history returned says what it leaves out (Omitted, Summary).
func ReadHistory(ctx context.Context, c client.Client, workflowID, runID string, opts ...ReadOption) (hooks.History, error) {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	h, err := readRun(ctx, c, workflowID, runID, o)
	if err != nil {
		return h, err
	}
	// The earlier runs of a chain that continued as new, oldest first.
	runs := []string{h.RunID}
	seen := map[string]bool{h.RunID: true}
	for prev := h.Previous; prev != "" && !seen[prev]; {
		seen[prev] = true
		earlier, err := readRun(ctx, c, workflowID, prev, o)
		if err != nil {
			return h, fmt.Errorf("flowstate: reading run %s of the chain of %s: %w", prev, workflowID, err)
		}
		h.Entries = append(earlier.Entries, h.Entries...)
		h.Omitted += earlier.Omitted
		for k, n := range earlier.Summary {
			if h.Summary == nil {
				h.Summary = map[string]int{}
			}
			h.Summary[k] += n
		}
		runs = append(runs, prev)
		prev = earlier.Previous
	}
	if len(runs) > 1 {
		slices.Reverse(runs)
		h.Runs = runs
		h.Total = len(h.Entries) + h.Omitted
	}
	return h, nil
}

// readRun reads the history of one run.
func readRun(ctx context.Context, c client.Client, workflowID, runID string, o readOptions) (hooks.History, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return hooks.History{}, fmt.Errorf("flowstate: describing %s: %w", workflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	runID = info.GetExecution().GetRunId()
	status := info.GetStatus()
	if info.GetCloseTime() == nil {
		h, err := queryAll(ctx, c, workflowID, runID)
		if err != nil {
			return h, failing(ctx, c, desc, workflowID, runID, err)
		}
		return h, nil
	}

	dead := status == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED || status == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
	if dead {
		if h, ok := fromCrashHandler(ctx, c, workflowID, runID); ok {
			return h, nil
		}
	}
	h, err := closedRun(ctx, c, workflowID, runID, info.GetMemo(), o)
	if err != nil && !dead {
		return h, err
	}
	if err != nil {
		// A run that never ran a workflow task has no state history of its own.
		h = hooks.History{Flow: info.GetType().GetName(), WorkflowID: workflowID, RunID: runID}
		st := hooks.NewState(hooks.Scheduled, info.GetStartTime().AsTime())
		h.State = st
		h.Entries = []hooks.Entry{{Seq: 1, Kind: hooks.KindFlow, Run: workflowID, Name: h.Flow, State: &st}}
	}
	if dead && !h.State.IsTerminal() {
		st := hooks.NewState(hooks.Crashed, info.GetCloseTime().AsTime())
		st.Attempt = h.State.Attempt
		st.Message, st.ErrorType = closeReason(ctx, c, workflowID, runID, status)
		h.State = st
		seq := h.Total + 1
		if n := len(h.Entries); n > 0 && h.Entries[n-1].Seq >= seq {
			seq = h.Entries[n-1].Seq + 1
		}
		h.Entries = append(h.Entries, hooks.Entry{Seq: seq, Kind: hooks.KindFlow, Run: workflowID, Name: h.Flow, State: &st})
		h.Total = len(h.Entries) + h.Omitted
	}
	return h, nil
}

// closeReason explains how the server closed a dead run: the termination's reason and identity,
// or the timeout.
func closeReason(ctx context.Context, c client.Client, workflowID, runID string, status enumspb.WorkflowExecutionStatus) (string, string) {
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
		return "timed out on the Temporal server: the workflow's execution or run timeout passed", "TimedOut"
	}
	msg := "terminated"
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	if it.HasNext() {
		if e, err := it.Next(); err == nil {
			if a := e.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
				if a.GetReason() != "" {
					msg += ": " + a.GetReason()
				}
				if a.GetIdentity() != "" {
					msg += " (by " + a.GetIdentity() + ")"
				}
			}
		}
	}
	return msg, "Terminated"
}

// closedRun reads a closed run's history from its memo, completed through the query when the memo
// leaves entries out, or through the query alone when the memo cannot be decoded.
func closedRun(ctx context.Context, c client.Client, workflowID, runID string, memo *commonpb.Memo, o readOptions) (hooks.History, error) {
	dc := o.dc
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	h, ok, merr := historyFromMemo(memo, dc)
	if ok && merr == nil {
		if h.Omitted == 0 && h.Dropped == 0 {
			return h, nil
		}
		if full, qerr := queryAll(ctx, c, workflowID, runID); qerr == nil {
			return full, nil
		}
		return h, nil // what the memo holds, with what it leaves out counted
	}
	full, qerr := queryAll(ctx, c, workflowID, runID)
	if qerr == nil {
		return full, nil
	}
	if merr != nil {
		return h, fmt.Errorf("%w: %s (memo: %v; query: %w); if the client has a payload codec, pass its DataConverter with adapter.WithDataConverter", ErrUndecodable, workflowID, merr, qerr)
	}
	return h, fmt.Errorf("flowstate: querying the state history of %s: %w", workflowID, qerr)
}

// fromCrashHandler returns the history the crash handler of a dead run recorded, once it has
// finished: its result, which the client decodes.
func fromCrashHandler(ctx context.Context, c client.Client, workflowID, runID string) (hooks.History, bool) {
	id := names.CrashHandlerID(workflowID, runID)
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		return hooks.History{}, false
	}
	var h hooks.History
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &h); err != nil {
		return hooks.History{}, false
	}
	return h, true
}

// queryAll reads every page of a run's history through the flowstate query.
func queryAll(ctx context.Context, c client.Client, workflowID, runID string) (hooks.History, error) {
	var h hooks.History
	req := hooks.PageRequest{}
	for page := 0; ; page++ {
		v, err := queryPage(ctx, c, workflowID, runID, req)
		if err != nil {
			return hooks.History{}, fmt.Errorf("flowstate: querying the state history of %s: %w", workflowID, err)
		}
		var p hooks.History
		if err := v.Get(&p); err != nil {
			return hooks.History{}, fmt.Errorf("flowstate: decoding the state history of %s: %w", workflowID, err)
		}
		if page == 0 {
			h = p
			h.Entries = nil
		}
		h.State, h.Data = p.State, p.Data
		h.Entries = append(h.Entries, p.Entries...)
		if p.Next == 0 || p.Next <= req.After {
			h.Next = 0
			return h, nil
		}
		req.After = p.Next
	}
}

// queryTimeout bounds one query of ReadHistory when its context sets no deadline: a worker that
// lost the run from its cache replays the run to answer, which takes seconds for a run of tens of
// thousands of tasks (the SDK's default of 10 s is not enough).
const queryTimeout = 2 * time.Minute

func queryPage(ctx context.Context, c client.Client, workflowID, runID string, req hooks.PageRequest) (converter.EncodedValue, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, queryTimeout)
		defer cancel()
	}
	return c.QueryWorkflow(ctx, workflowID, runID, names.Query, req)
}

// historyFromMemo reads the state history a closed run keeps in its memo, with its data (kept in
// memo fields of their own, or, by flowstate v0.1, in one).
func historyFromMemo(memo *commonpb.Memo, dc converter.DataConverter) (hooks.History, bool, error) {
	fields := memo.GetFields()
	p, ok := fields[names.MemoHistory]
	if !ok {
		return hooks.History{}, false, nil
	}
	var h hooks.History
	if err := dc.FromPayload(p, &h); err != nil {
		return hooks.History{}, true, fmt.Errorf("flowstate: decoding a state history memo: %w", err)
	}
	if a, ok := fields[names.MemoArchive]; ok && h.Omitted > 0 {
		if full, err := unarchive(a, dc); err == nil {
			h.Entries, h.Omitted, h.Summary, h.Total = full.Entries, 0, nil, len(full.Entries)
		}
	}
	for key, p := range fields {
		switch {
		case key == names.MemoData && h.Data == nil:
			_ = dc.FromPayload(p, &h.Data)
		case strings.HasPrefix(key, names.MemoDataPrefix):
			var v json.RawMessage
			if dc.FromPayload(p, &v) == nil {
				if h.Data == nil {
					h.Data = map[string]json.RawMessage{}
				}
				h.Data[strings.TrimPrefix(key, names.MemoDataPrefix)] = v
			}
		}
	}
	if h.Total == 0 {
		h.Total = len(h.Entries) + h.Omitted + h.Dropped
	}
	return h, true, nil
}

// unarchive decodes the compressed state history of a memo's archive field.
func unarchive(p *commonpb.Payload, dc converter.DataConverter) (hooks.History, error) {
	var gz []byte
	if err := dc.FromPayload(p, &gz); err != nil {
		return hooks.History{}, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return hooks.History{}, err
	}
	var h hooks.History
	if err := json.NewDecoder(zr).Decode(&h); err != nil {
		return hooks.History{}, err
	}
	return h, nil
}

// failing explains why a run's query failed when its workflow task keeps failing: an unknown
// workflow type, a panic, a non-deterministic change. Otherwise it returns err.
func failing(ctx context.Context, c client.Client, desc *workflowservice.DescribeWorkflowExecutionResponse, workflowID, runID string, err error) error {
	if desc.GetPendingWorkflowTask().GetAttempt() < 2 {
		var notReady *serviceerror.WorkflowNotReady
		if !errors.As(err, &notReady) {
			return err
		}
	}
	var last *historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, rerr := it.Next()
		if rerr != nil {
			return err
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			last = e
		}
	}
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (attempt %d): %s", ErrWorkflowTaskFailing, desc.GetPendingWorkflowTask().GetAttempt(), taskFailure(last))
}

func taskFailure(e *historypb.HistoryEvent) string {
	a := e.GetWorkflowTaskFailedEventAttributes()
	cause := strings.TrimPrefix(a.GetCause().String(), "WORKFLOW_TASK_FAILED_CAUSE_")
	msg := a.GetFailure().GetMessage()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return strings.ToLower(strings.ReplaceAll(cause, "_", " ")) + ": " + msg
}

// ReadHistoryMemo decodes the state history a closed flow run keeps in its memo, as
// DescribeWorkflowExecution returns it, without querying anything: bounded in size, it says what
// it leaves out (Omitted, Summary), which ReadHistory fetches.
func ReadHistoryMemo(memo *commonpb.Memo, opts ...ReadOption) (hooks.History, error) {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	dc := o.dc
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	h, ok, err := historyFromMemo(memo, dc)
	if err == nil && !ok {
		err = errors.New("flowstate: the memo holds no state history (the run is open, or is not a flow)")
	}
	return h, err
}
