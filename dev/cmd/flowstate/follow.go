package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// pollInterval is how often `flowstate run` reads an open run's state history, at most.
const pollInterval = 250 * time.Millisecond

// follower prints a flow run's progress while it is open: each new entry of its state history
// (the flow's and its tasks' states, hook outcomes) as it appears, and the failed attempts that
// the history records only later, if at all: a hook call's attempts (its outcome is recorded once
// the call ended), and the attempts of a task that the Temporal server retries (recorded when the
// task ends). Those come from the run's Temporal history (a hook's local attempts) and from its
// pending activities (the attempts the server retries).
type follower struct {
	c    client.Client
	flow string
	run  client.WorkflowRun
	out  io.Writer
	p    progress
	// readOpts are ReadHistory's options: the codec of the run's payloads.
	readOpts []adapter.ReadOption

	printed int                 // entries of the state history printed so far
	start   time.Time           // the time of the history's first entry, the origin of offsets
	shown   map[string]int      // activity ID → the last attempt whose failure was printed
	calls   map[string]hookCall // hook activity ID → the call, read from the Temporal history
	warned  bool

	mu     sync.Mutex
	events []*historypb.HistoryEvent // Temporal history events not handled yet
	read   chan struct{}             // closed when the Temporal history is read to its end
}

// hookCall is a hook call as its activity's input names it.
type hookCall struct {
	hook, event string
	base        int // attempts made before the activity (a ModeAuto call's local attempt)
}

// line is a line of progress, in the timeline's order.
type line struct {
	at   time.Time
	text string // without the offset
}

// outcome is how a followed run ended.
type outcome struct {
	result  json.RawMessage
	err     error         // the run's error, as the SDK returns it
	history hooks.History // its final state history
	histErr error         // why the history could not be read
}

func newFollower(c client.Client, flow string, run client.WorkflowRun, out io.Writer, readOpts []adapter.ReadOption) *follower {
	return &follower{c: c, flow: flow, run: run, out: out, p: progress{w: out}, readOpts: readOpts,
		shown: map[string]int{}, calls: map[string]hookCall{}, read: make(chan struct{})}
}

// follow prints the run's progress until it closes or ctx is done, and returns how it ended.
func (f *follower) follow(ctx context.Context) (outcome, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.readEvents(ctx)
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.err = f.run.Get(ctx, &o.result)
		done <- o
	}()
	next := time.NewTimer(pollInterval)
	defer next.Stop()
	for {
		select {
		case o := <-done:
			if ctx.Err() != nil {
				return o, ctx.Err()
			}
			// The closed run's histories are final: print what the last poll had not seen yet.
			select {
			case <-f.read:
			case <-time.After(5 * time.Second):
			}
			o.history, o.histErr = adapter.ReadHistory(context.WithoutCancel(ctx), f.c, f.run.GetID(), f.run.GetRunID(), f.readOpts...)
			var lines []line
			if o.histErr == nil {
				lines = f.newEntries(o.history)
			}
			f.print(append(lines, f.eventLines()...))
			if o.histErr == nil && o.history.Dropped > 0 {
				fmt.Fprintf(f.out, "(%d more entries: temporal workflow query --workflow-id %s --type flowstate.states)\n", o.history.Dropped, f.run.GetID())
			}
			return o, nil
		case <-next.C:
			f.poll(ctx)
			// Each poll reads the whole state history: poll a large run less often, up to every 5 s.
			next.Reset(min(pollInterval*time.Duration(1+f.printed/1000), 5*time.Second))
		}
	}
}

// readEvents reads the run's Temporal history as it grows, until the run closes.
func (f *follower) readEvents(ctx context.Context) {
	defer close(f.read)
	it := f.c.GetWorkflowHistory(ctx, f.run.GetID(), f.run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.events = append(f.events, ev)
		f.mu.Unlock()
	}
}

// poll prints what happened since the last poll. Errors are left for the next poll: the run may
// not have reached a worker yet.
func (f *follower) poll(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var lines []line
	h, err := adapter.ReadHistory(qctx, f.c, f.run.GetID(), f.run.GetRunID(), f.readOpts...)
	if err == nil {
		lines = f.newEntries(h)
	}
	lines = append(lines, f.eventLines()...)
	if desc, err := f.c.DescribeWorkflowExecution(qctx, f.run.GetID(), f.run.GetRunID()); err == nil {
		f.warnStuck(desc)
		lines = append(lines, f.retryLines(desc, h)...)
	}
	f.print(lines)
}

// newEntries returns the entries of h not printed yet, as the timeline renders them.
func (f *follower) newEntries(h hooks.History) []line {
	if len(h.Entries) <= f.printed {
		return nil
	}
	if f.printed == 0 {
		f.start = h.Entries[0].At()
	}
	var lines []line
	rendered := strings.Split(h.Timeline(), "\n")
	for i := f.printed; i < len(h.Entries) && i < len(rendered); i++ {
		// The timeline's line is "OFFSET  WHO  WHAT"; the offset is printed again from At.
		_, text, _ := strings.Cut(strings.TrimLeft(rendered[i], " "), "  ")
		lines = append(lines, line{at: h.Entries[i].At(), text: text})
	}
	f.printed = len(h.Entries)
	return lines
}

// eventLines handles the Temporal history events read since the last call: it learns which hook
// each hook activity calls, and returns the failed local attempts of hook calls.
func (f *follower) eventLines() []line {
	f.mu.Lock()
	events := f.events
	f.events = nil
	f.mu.Unlock()
	dc := converter.GetDefaultDataConverter()
	var lines []line
	for _, ev := range events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == names.HookActivity {
			var inv hooks.Invocation
			if p := a.GetInput().GetPayloads(); len(p) == 1 && dc.FromPayload(p[0], &inv) == nil {
				f.calls[a.GetActivityId()] = hookCall{hook: inv.Hook, event: string(inv.Event), base: inv.AttemptBase}
			}
			continue
		}
		m := ev.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "LocalActivity" || m.GetFailure() == nil {
			continue
		}
		var data struct {
			ActivityType string
			Attempt      int
		}
		if dc.FromPayloads(m.GetDetails()["data"], &data) != nil || data.ActivityType != names.HookActivity {
			continue
		}
		// The local activity's summary names the call: "on_failure hook notify-slack".
		var summary string
		_ = dc.FromPayload(ev.GetUserMetadata().GetSummary(), &summary)
		event, hook, ok := strings.Cut(summary, " hook ")
		if !ok {
			event, hook = "", summary
		}
		hook, _, _ = strings.Cut(hook, " ")
		lines = append(lines, line{at: ev.GetEventTime().AsTime(), text: fmt.Sprintf("%-28s %s: attempt %d failed: %s",
			"hook "+hook, event, max(data.Attempt, 1), m.GetFailure().GetMessage())})
	}
	return lines
}

// retryLines returns the failed attempts of the run's pending activities that the server is
// retrying, each once: hook calls, and tasks whose state history lacks the attempt.
func (f *follower) retryLines(desc *workflowservice.DescribeWorkflowExecutionResponse, h hooks.History) []line {
	var lines []line
	for _, a := range desc.GetPendingActivities() {
		if a.GetLastFailure() == nil || a.GetAttempt() < 2 {
			continue
		}
		failed, last := int(a.GetAttempt())-1, int(a.GetMaximumAttempts()) // of the activity
		var who, what string
		if a.GetActivityType().GetName() == names.HookActivity {
			call, ok := f.calls[a.GetActivityId()]
			if !ok {
				continue // its scheduling event is not read yet
			}
			failed += call.base
			if last > 0 {
				last += call.base
			}
			who, what = "hook "+call.hook, call.event+": "
		} else {
			// A task run's activity ID is its task run ID.
			who = "task " + a.GetActivityId()
			if recorded(h, a.GetActivityId(), failed) {
				continue
			}
		}
		if f.shown[a.GetActivityId()] >= failed {
			continue
		}
		f.shown[a.GetActivityId()] = failed
		text := fmt.Sprintf("%-28s %sattempt %d failed: %s; retrying (attempt %d", who, what, failed, a.GetLastFailure().GetMessage(), failed+1)
		if last > 0 {
			text += fmt.Sprintf(" of %d", last)
		}
		at := time.Now()
		if t := a.GetLastAttemptCompleteTime(); t != nil {
			at = t.AsTime()
		}
		lines = append(lines, line{at: at, text: text + ")"})
	}
	return lines
}

// recorded reports whether h records the failure of the given attempt of run.
func recorded(h hooks.History, run string, attempt int) bool {
	for _, st := range h.States(run) {
		if st.Name == hooks.NameAwaitingRetry && st.Attempt == attempt {
			return true
		}
	}
	return false
}

// print prints lines in the order they happened, each with its offset from the run's start.
func (f *follower) print(lines []line) {
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	for _, l := range lines {
		offset := time.Duration(0)
		if !f.start.IsZero() {
			offset = l.at.Sub(f.start).Round(time.Millisecond)
		}
		fmt.Fprintf(f.out, "%8s  %s\n", "+"+offset.String(), l.text)
	}
}

// warnStuck says, once, when no worker takes the run's workflow tasks: the flow is not registered
// on the task queue's workers, or no worker serves the queue.
func (f *follower) warnStuck(desc *workflowservice.DescribeWorkflowExecutionResponse) {
	wt := desc.GetPendingWorkflowTask()
	if wt == nil || f.warned {
		return
	}
	info := desc.GetWorkflowExecutionInfo()
	switch {
	case wt.GetAttempt() > 2:
		f.warned = true
		f.p.fail("the run's workflow task has failed %d times: is flow %q registered on a worker of task queue %s?",
			wt.GetAttempt()-1, info.GetType().GetName(), info.GetTaskQueue())
	case wt.GetStartedTime() == nil && time.Since(wt.GetScheduledTime().AsTime()) > 10*time.Second:
		f.warned = true
		f.p.fail("no worker has picked the run up for %s: is a worker running for task queue %s? (flowstate worker, or flowstate dev)",
			time.Since(wt.GetScheduledTime().AsTime()).Round(time.Second), info.GetTaskQueue())
	}
}

// endError is the error of a run that did not complete, for people: how it ended, and why, once.
func endError(id string, o outcome) error {
	if o.histErr == nil {
		st := o.history.State
		name := st.Name
		if name == "" {
			name = st.Type.DefaultName()
		}
		if st.Type == hooks.Completed {
			return nil
		}
		if msg := strings.TrimPrefix(st.Message, "flowstate: "); msg != "" {
			return fmt.Errorf("flow run %s ended %s: %s", id, name, msg)
		}
		return fmt.Errorf("flow run %s ended %s", id, name)
	}
	if o.err == nil {
		return nil
	}
	return fmt.Errorf("flow run %s failed: %s", id, rootMessage(o.err))
}

// rootMessage returns the message of the error that ended a run, without the SDK's wrapping
// (workflow execution error, activity error, "(type: …, retryable: …)").
func rootMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return strings.TrimPrefix(app.Message(), "flowstate: ")
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) {
		return "terminated"
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "timed out (" + strings.ToLower(strings.TrimPrefix(timeout.TimeoutType().String(), "TIMEOUT_TYPE_")) + ")"
	}
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err.Error()
}
