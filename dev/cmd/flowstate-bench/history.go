package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/names"
)

// runHistory is what one run's Temporal history says about its cost.
type runHistory struct {
	// batch is the index of the batch (the round) the run was measured in.
	batch  int
	events int
	byType map[string]int
	// bytes is the history's size, as protobuf; memoBytes the size of the memos the run upserted.
	bytes, memoBytes int
	// hookCalls counts the hook calls the run made: the local activity markers of flowstate.hook
	// (ModeLocal, and ModeAuto's first attempts) and the flowstate.hook activities that started a
	// call (ModeActivity). localHooks counts the markers; hookActivities every flowstate.hook
	// activity, movedHooks those that went on with a call whose local attempt failed (ModeAuto).
	hookCalls, localHooks, hookActivities, movedHooks int
	// planMarkers counts the markers that record the run's plans (mutable side effects).
	planMarkers int
	// failedWFTs counts the run's workflow tasks that failed or timed out: on an overloaded
	// machine the SDK's deadlock detector fails a workflow task whose process was not scheduled
	// for a second, and a workflow task can time out; each adds events of its own.
	failedWFTs int
	// hookStart is, per hook call, the time from the state change to the hook's activity
	// starting: the state's timestamp, which is workflow time (the WorkflowTaskStarted event time
	// of the workflow task that entered the state), to the hook's ActivityTaskStarted event time.
	hookStart []time.Duration
	// hookSchedToStart is, per hook call, ActivityTaskScheduled to ActivityTaskStarted: the
	// server's share of hookStart.
	hookSchedToStart []time.Duration
	// activityRTT is, per task activity (not hooks), one round trip as workflow code sees it:
	// from the WorkflowTaskStarted of the workflow task that scheduled it to the
	// WorkflowTaskStarted of the first workflow task after it closed.
	activityRTT []time.Duration
	// serverTime is WorkflowExecutionStarted to the closing event: the run as the server saw it.
	serverTime time.Duration
	// closeTime is the closing event's time.
	closeTime time.Time
	// firstWFTWait is the first workflow task's WorkflowTaskScheduled to WorkflowTaskStarted, on
	// the task queue itself; wftWait the same for the later ones, on the worker's sticky queue.
	firstWFTWait time.Duration
	wftWait      []time.Duration
}

type scheduledActivity struct {
	hook      bool
	stateTime time.Time // hooks: the state the hook is about entered at this time
	schedTime time.Time
	wftStart  time.Time // WorkflowTaskStarted of the workflow task that scheduled it
}

// analyze reads the cost of one run from its history events.
func analyze(events []*historypb.HistoryEvent) (runHistory, error) {
	h := runHistory{events: len(events), byType: map[string]int{}}
	wftStarted := map[int64]time.Time{}    // WorkflowTaskStarted event ID → time
	wftCompleted := map[int64]int64{}      // WorkflowTaskCompleted event ID → its started event ID
	acts := map[int64]*scheduledActivity{} // ActivityTaskScheduled event ID → activity
	var awaitingWFT []time.Time            // task activities closed, waiting for the next workflow task
	dc := converter.GetDefaultDataConverter()
	var wftScheduled time.Time
	wfts := 0

	for _, e := range events {
		h.byType[eventTypeName(e.GetEventType())]++
		h.bytes += proto.Size(e)
		at := e.GetEventTime().AsTime()
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wftScheduled = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			wftStarted[e.GetEventId()] = at
			if wfts++; wfts == 1 {
				h.firstWFTWait = at.Sub(wftScheduled)
			} else {
				h.wftWait = append(h.wftWait, at.Sub(wftScheduled))
			}
			for _, t := range awaitingWFT {
				h.activityRTT = append(h.activityRTT, at.Sub(t))
			}
			awaitingWFT = awaitingWFT[:0]
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			m := e.GetMarkerRecordedEventAttributes()
			switch {
			case isLocalHook(m, dc):
				h.hookCalls++
				h.localHooks++
			case m.GetMarkerName() == "MutableSideEffect":
				h.planMarkers++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			h.failedWFTs++
		case enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			h.memoBytes += proto.Size(e.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo())
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			wftCompleted[e.GetEventId()] = e.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := e.GetActivityTaskScheduledEventAttributes()
			s := &scheduledActivity{schedTime: at, wftStart: wftStarted[wftCompleted[a.GetWorkflowTaskCompletedEventId()]]}
			if a.GetActivityType().GetName() == names.HookActivity {
				var inv hooks.Invocation
				if err := dc.FromPayloads(a.GetInput(), &inv); err != nil {
					return h, fmt.Errorf("decoding the input of hook activity %d: %w", e.GetEventId(), err)
				}
				s.hook, s.stateTime = true, inv.State.Timestamp
				h.hookActivities++
				if inv.AttemptBase > 0 {
					h.movedHooks++ // the same call as the local attempt's marker
				} else {
					h.hookCalls++
				}
			}
			acts[e.GetEventId()] = s
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			s := acts[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
			if s != nil && s.hook {
				h.hookStart = append(h.hookStart, at.Sub(s.stateTime))
				h.hookSchedToStart = append(h.hookSchedToStart, at.Sub(s.schedTime))
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			closeActivity(acts[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()], &awaitingWFT)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			closeActivity(acts[e.GetActivityTaskFailedEventAttributes().GetScheduledEventId()], &awaitingWFT)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			closeActivity(acts[e.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()], &awaitingWFT)
		}
	}
	if len(events) > 0 {
		h.closeTime = events[len(events)-1].GetEventTime().AsTime()
		h.serverTime = h.closeTime.Sub(events[0].GetEventTime().AsTime())
	}
	return h, nil
}

// wftEvents counts the run's workflow task events.
func (h runHistory) wftEvents() int {
	n := 0
	for t, c := range h.byType {
		if strings.HasPrefix(t, "WorkflowTask") {
			n += c
		}
	}
	return n
}

// isLocalHook reports whether a marker records a hook call run as a local activity: the SDK's
// LocalActivity marker, whose "data" detail names the activity type.
func isLocalHook(m *historypb.MarkerRecordedEventAttributes, dc converter.DataConverter) bool {
	if m.GetMarkerName() != "LocalActivity" {
		return false
	}
	var data struct{ ActivityType string }
	return dc.FromPayloads(m.GetDetails()["data"], &data) == nil && data.ActivityType == names.HookActivity
}

func closeActivity(s *scheduledActivity, awaiting *[]time.Time) {
	if s != nil && !s.hook && !s.wftStart.IsZero() {
		*awaiting = append(*awaiting, s.wftStart)
	}
}

// eventTypeName names an event type as the temporal CLI and Web UI do: ActivityTaskScheduled.
func eventTypeName(t enumspb.EventType) string {
	s := t.String()
	if !strings.HasPrefix(s, "EVENT_TYPE_") {
		return s
	}
	var b strings.Builder
	for _, w := range strings.Split(strings.TrimPrefix(s, "EVENT_TYPE_"), "_") {
		if w != "" {
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

// readHistory fetches one closed run's full history from the server.
func (b *bench) readHistory(ctx context.Context, run started) ([]*historypb.HistoryEvent, error) {
	it := b.c.GetWorkflowHistory(ctx, run.id, run.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", run.id, err)
		}
		events = append(events, e)
	}
	return events, nil
}

// readHistories reads the histories of the row's measured runs (cfg.Sample of them, spread
// over the batches, or all) and analyzes them.
func (b *bench) readHistories(ctx context.Context, r *rowRun) error {
	var runs []started
	var batchOf []int
	for k, res := range r.batches {
		runs = append(runs, res.runs...)
		for range res.runs {
			batchOf = append(batchOf, k)
		}
	}
	if n := b.cfg.Sample; n > 0 && n < len(runs) {
		picked, pickedBatch := make([]started, 0, n), make([]int, 0, n)
		for i := range n {
			picked = append(picked, runs[i*len(runs)/n])
			pickedBatch = append(pickedBatch, batchOf[i*len(runs)/n])
		}
		runs, batchOf = picked, pickedBatch
	}
	results := make([]runHistory, len(runs))
	all := make([][]*historypb.HistoryEvent, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, run := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			events, err := b.readHistory(ctx, run)
			if err == nil {
				results[i], err = analyze(events)
			}
			if err == nil {
				all[i] = events
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i := range results {
		results[i].batch = batchOf[i]
	}
	r.histories, r.sampled = results, runs
	// The example run is the one of median duration on the server.
	order := make([]int, len(runs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return results[order[a]].serverTime < results[order[b]].serverTime })
	if len(order) > 0 {
		mid, last := order[len(order)/2], order[len(order)-1]
		r.example, r.exampleEvents = runs[mid].id, all[mid]
		r.slowest, r.slowestEvents = runs[last].id, all[last]
	}
	return nil
}

// writeTimeline writes one history as the benchmark saw it: each event's offset from the first
// one, its type and, for activities, the activity type.
func writeTimeline(w io.Writer, events []*historypb.HistoryEvent) {
	if len(events) == 0 {
		return
	}
	t0 := events[0].GetEventTime().AsTime()
	acts := map[int64]string{}
	for _, e := range events {
		detail := ""
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := e.GetActivityTaskScheduledEventAttributes()
			acts[e.GetEventId()] = a.GetActivityType().GetName()
			detail = fmt.Sprintf("%s (input %d B", acts[e.GetEventId()], proto.Size(a.GetInput()))
			if h := a.GetHeader().GetFields(); len(h) > 0 {
				keys := make([]string, 0, len(h))
				for k := range h {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				detail += fmt.Sprintf(", header %s %d B", strings.Join(keys, ","), proto.Size(a.GetHeader()))
			}
			detail += fmt.Sprintf(", event %d B)", proto.Size(e))
			if acts[e.GetEventId()] == names.HookActivity {
				var inv hooks.Invocation
				if converter.GetDefaultDataConverter().FromPayloads(a.GetInput(), &inv) == nil {
					detail += fmt.Sprintf(" %s %s (state at +%.1f ms)", inv.Hook, inv.State.Name, ms(inv.State.Timestamp.Sub(t0)))
					if inv.AttemptBase > 0 {
						detail += " moved after its local attempt"
					}
				}
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			detail = acts[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			detail = acts[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			detail = fmt.Sprintf("%d bytes", proto.Size(e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes()))
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			detail = e.GetMarkerRecordedEventAttributes().GetMarkerName()
			if isLocalHook(e.GetMarkerRecordedEventAttributes(), converter.GetDefaultDataConverter()) {
				detail = names.HookActivity + " (local activity)"
			}
			detail += fmt.Sprintf(" (event %d B)", proto.Size(e))
		case enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
			detail = fmt.Sprintf("memo, %d bytes", proto.Size(e.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo()))
		}
		fmt.Fprintf(w, "  %3d  %+9.1f ms  %-32s %s\n", e.GetEventId(), ms(e.GetEventTime().AsTime().Sub(t0)), eventTypeName(e.GetEventType()), detail)
	}
}
