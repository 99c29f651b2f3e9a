package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
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
// (the flow's and its tasks' states, hook outcomes) as it appears, and the failed attempts of
// activities that the server is retrying: hook calls, whose outcome the history records only once
// the call ended, and task attempts the history does not have.
type follower struct {
	c    client.Client
	flow string
	run  client.WorkflowRun
	out  io.Writer
	p    progress

	printed int                // entries of the history printed so far
	start   time.Time          // the time of the history's first entry, the origin of offsets
	retries map[string]int32   // hook activity ID → the attempt whose failure was printed last
	hooks   map[string]hookRef // hook activity ID → the hook it calls, read from the run's history
	warned  bool
}

// hookRef names a hook call.
type hookRef struct {
	who  string // "flow NAME" or "task RUN-ID", as the timeline says
	what string // "on_failure notify-slack"
}

// outcome is how a followed run ended.
type outcome struct {
	result  json.RawMessage
	err     error         // the run's error, as the SDK returns it
	history hooks.History // its final state history
	histErr error         // why the history could not be read
}

func newFollower(c client.Client, flow string, run client.WorkflowRun, out io.Writer) *follower {
	return &follower{c: c, flow: flow, run: run, out: out, p: progress{w: out},
		retries: map[string]int32{}, hooks: map[string]hookRef{}}
}

// follow prints the run's progress until it closes or ctx is done, and returns how it ended.
func (f *follower) follow(ctx context.Context) (outcome, error) {
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
			// The closed run's history is final: print what the last poll had not seen yet.
			o.history, o.histErr = adapter.ReadHistory(context.WithoutCancel(ctx), f.c, f.run.GetID(), f.run.GetRunID())
			if o.histErr == nil {
				f.printEntries(o.history)
				if o.history.Dropped > 0 {
					fmt.Fprintf(f.out, "(%d more entries: temporal workflow query --workflow-id %s --type flowstate.states)\n", o.history.Dropped, f.run.GetID())
				}
			}
			return o, nil
		case <-next.C:
			t0 := time.Now()
			f.poll(ctx)
			// A large run's history takes a while to read: poll it less often.
			next.Reset(max(pollInterval, 4*time.Since(t0)))
		}
	}
}

// poll prints what happened since the last poll. Errors are left for the next poll: the run may
// not have reached a worker yet.
func (f *follower) poll(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := adapter.ReadHistory(qctx, f.c, f.run.GetID(), f.run.GetRunID())
	if err == nil {
		f.printEntries(h)
	}
	desc, err := f.c.DescribeWorkflowExecution(qctx, f.run.GetID(), f.run.GetRunID())
	if err != nil {
		return
	}
	f.warnStuck(desc)
	for _, a := range desc.GetPendingActivities() {
		if a.GetLastFailure() == nil || a.GetAttempt() < 2 {
			continue
		}
		failed := a.GetAttempt() - 1 // the attempt whose failure LastFailure is
		if f.retries[a.GetActivityId()] >= failed {
			continue
		}
		f.retries[a.GetActivityId()] = failed
		var who, what string
		if a.GetActivityType().GetName() == names.HookActivity {
			ref := f.hookRef(qctx, a.GetActivityId())
			who, what = ref.who, "hook "+ref.what+": "
		} else {
			// A task run's activity ID is its task run ID. Its history may have the attempt already.
			if recorded(h, a.GetActivityId(), int(failed)) {
				continue
			}
			who = "task " + a.GetActivityId()
		}
		line := fmt.Sprintf("%sattempt %d failed: %s", what, failed, a.GetLastFailure().GetMessage())
		if max := a.GetMaximumAttempts(); max > 0 {
			line += fmt.Sprintf("; retrying (attempt %d of %d)", failed+1, max)
		} else {
			line += fmt.Sprintf("; retrying (attempt %d)", failed+1)
		}
		at := time.Now()
		if t := a.GetLastAttemptCompleteTime(); t != nil {
			at = t.AsTime()
		}
		f.line(at, who, line)
	}
}

// recorded reports whether h records the failure of the given attempt of run as AwaitingRetry.
func recorded(h hooks.History, run string, attempt int) bool {
	for _, st := range h.States(run) {
		if st.Name == hooks.NameAwaitingRetry && st.Attempt == attempt {
			return true
		}
	}
	return false
}

// printEntries prints the entries of h not printed yet, in the timeline's format.
func (f *follower) printEntries(h hooks.History) {
	if len(h.Entries) <= f.printed {
		return
	}
	if f.printed == 0 {
		f.start = h.Entries[0].At()
	}
	lines := strings.SplitAfter(h.Timeline(), "\n")
	for i := f.printed; i < len(h.Entries) && i < len(lines); i++ {
		fmt.Fprint(f.out, lines[i])
	}
	f.printed = len(h.Entries)
}

// line prints a line of ours in the timeline's format.
func (f *follower) line(at time.Time, who, text string) {
	offset := time.Duration(0)
	if !f.start.IsZero() {
		offset = at.Sub(f.start).Round(time.Millisecond)
	}
	fmt.Fprintf(f.out, "%8s  %-28s %s\n", "+"+offset.String(), who, text)
}

// hookRef reads which hook a hook activity calls from the activity's input in the run's
// history. A payload it cannot decode (an encrypting codec) leaves the activity's ID.
func (f *follower) hookRef(ctx context.Context, activityID string) hookRef {
	if ref, ok := f.hooks[activityID]; ok {
		return ref
	}
	ref := hookRef{who: "flow " + f.flow, what: "(activity " + activityID + ")"}
	it := f.c.GetWorkflowHistory(ctx, f.run.GetID(), f.run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		attrs := ev.GetActivityTaskScheduledEventAttributes()
		if attrs == nil || attrs.GetActivityId() != activityID {
			continue
		}
		var inv hooks.Invocation
		if p := attrs.GetInput().GetPayloads(); len(p) == 1 && converter.GetDefaultDataConverter().FromPayload(p[0], &inv) == nil {
			ref.what = fmt.Sprintf("%s %s", inv.Event, inv.Hook)
			switch {
			case inv.TaskRun != nil:
				ref.who = "task " + inv.TaskRun.ID
			case inv.Flow != nil:
				ref.who = "flow " + inv.Flow.Name
			}
		}
		break
	}
	f.hooks[activityID] = ref
	return ref
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
