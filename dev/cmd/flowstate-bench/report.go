package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	historypb "go.temporal.io/api/history/v1"
)

// rowRun gathers what the batches of one row measured.
type rowRun struct {
	spec      rowSpec
	start     starter
	batches   []*batchResult
	histories []runHistory
	sampled   []started // the runs of histories, index by index
	// example is one run whose history was read, with its events.
	example       string
	exampleEvents []*historypb.HistoryEvent
	// slowest is the run that took longest on the server, with its events.
	slowest       string
	slowestEvents []*historypb.HistoryEvent
}

func (r *rowRun) add(b *batchResult) { r.batches = append(r.batches, b) }

// Report is the result of a benchmark run, as the table and the JSON output show it.
type Report struct {
	Config  Config   `json:"config"`
	Env     Env      `json:"env"`
	Rows    []Row    `json:"rows"`
	Targets []Target `json:"targets"`

	examples []*rowRun
}

// Env describes the machine and the process.
type Env struct {
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// ProcessRSSMB is the benchmark process's RSS before the server started.
	ProcessRSSMB float64 `json:"process_rss_mb"`
	// ServerIdleRSSMB is the process's RSS with the server started and idle, before any worker:
	// the server-only baseline.
	ServerIdleRSSMB float64 `json:"server_idle_rss_mb"`
	// IdleRSSMB is the process's RSS with the server and both workers started, idle.
	IdleRSSMB float64 `json:"idle_rss_mb"`
	// IdleCPU is the process's CPU use, in cores, with the server and workers idle. After its
	// last run closed, a batch drains until the process is back within 0.25 cores of it, for at
	// most 3 s.
	IdleCPU float64 `json:"idle_cpu_cores"`
	// PeakRSSFrom says how the rows' peak RSS is measured.
	PeakRSSFrom string `json:"peak_rss_from"`
	Elapsed     string `json:"elapsed"`
}

// Row is one measured row.
type Row struct {
	Key      string `json:"key"`
	Title    string `json:"title"`
	Baseline string `json:"baseline"`
	Flows    int    `json:"flows"`

	FlowsPerSec  float64 `json:"flows_per_sec"`
	TasksPerSec  float64 `json:"tasks_per_sec"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	// LatencyP50Ms and LatencyP99Ms are from the start call to the run's closing event in its
	// history. ClientP50Ms and ClientP99Ms are from the start call to the result in the
	// client; ClientStalls counts runs whose result came over 250 ms after their closing event
	// (the server's long poll missed the close; see closePoll).
	ClientP50Ms  float64 `json:"client_p50_ms"`
	ClientP99Ms  float64 `json:"client_p99_ms"`
	ClientStalls int     `json:"client_stalls"`
	// StartP50Ms is the start call's latency (ExecuteWorkflow or Flow.Start); ServerP50Ms
	// the run's duration in its history, WorkflowExecutionStarted to its closing event.
	StartP50Ms  float64 `json:"start_p50_ms"`
	ServerP50Ms float64 `json:"server_p50_ms"`
	ServerP99Ms float64 `json:"server_p99_ms"`
	// FirstWFTWait is the first workflow task's schedule-to-start (on the task queue), WFTWait
	// that of the later ones (on the worker's sticky queue).
	FirstWFTWaitP50Ms float64 `json:"first_wft_wait_p50_ms"`
	FirstWFTWaitP99Ms float64 `json:"first_wft_wait_p99_ms"`
	WFTWaitP50Ms      float64 `json:"wft_wait_p50_ms"`
	WFTWaitP99Ms      float64 `json:"wft_wait_p99_ms"`

	// HistoriesRead is how many runs' histories were read; the history figures (events, their
	// types and sizes, hook calls) leave out the DisturbedRuns among them, whose workflow tasks
	// failed or timed out on an overloaded machine, unless every run was disturbed.
	HistoriesRead int                `json:"histories_read"`
	DisturbedRuns int                `json:"disturbed_runs"`
	EventsPerFlow float64            `json:"events_per_flow"`
	EventsMin     int                `json:"events_min"`
	EventsMax     int                `json:"events_max"`
	EventsByType  map[string]float64 `json:"events_by_type"`
	// HistoryKBPerFlow is the history's size; MemoKBPerFlow the part of it that is upserted memo.
	HistoryKBPerFlow float64 `json:"history_kb_per_flow"`
	MemoKBPerFlow    float64 `json:"memo_kb_per_flow"`
	ExampleRun       string  `json:"example_run"`

	// Hooks, Mode and Concurrent describe the row's workload: no-op hooks on every event (Mode
	// "default" is the default configuration, ModeAuto), and tasks started all at once. NoHooks is
	// the row of the same shape without hooks, which EventsPerHook is measured against.
	Hooks      bool   `json:"hooks,omitempty"`
	Mode       string `json:"mode,omitempty"`
	Concurrent bool   `json:"concurrent,omitempty"`
	NoHooks    string `json:"no_hooks,omitempty"`

	// HookCallsPerFlow counts the hook calls in the histories: flowstate.hook local activity
	// markers and the flowstate.hook activities that start a call. HookRunsPerFlow counts the
	// calls the no-op hooks saw (their idempotency keys), HookAttemptsPerFlow their runs (more
	// when a local attempt ran again after its workflow task failed). LocalHooksPerFlow counts the markers,
	// HookActivitiesPerFlow every flowstate.hook activity, MovedHooksPerFlow those that went on
	// with a ModeAuto call after its local attempt (no new call), PlanMarkersPerFlow the markers
	// recording the run's plans.
	HookCallsPerFlow      float64 `json:"hook_calls_per_flow"`
	HookRunsPerFlow       float64 `json:"hook_runs_per_flow"`
	HookAttemptsPerFlow   float64 `json:"hook_attempts_per_flow"`
	LocalHooksPerFlow     float64 `json:"local_hooks_per_flow"`
	HookActivitiesPerFlow float64 `json:"hook_activities_per_flow"`
	MovedHooksPerFlow     float64 `json:"moved_hooks_per_flow"`
	PlanMarkersPerFlow    float64 `json:"plan_markers_per_flow"`
	// EventsPerHook is what the hooks add to a run's history per call: the row's events per flow
	// less those of its row without hooks, over its hook calls per flow.
	EventsPerHook float64 `json:"events_per_hook"`
	// HookStartP50Ms and HookStartP99Ms are, for hooks run as activities, from the state's
	// timestamp to the hook's ActivityTaskStarted in history; HookSchedToStartP50Ms from its
	// ActivityTaskScheduled.
	HookStartP50Ms        float64 `json:"hook_start_p50_ms"`
	HookStartP99Ms        float64 `json:"hook_start_p99_ms"`
	HookSchedToStartP50Ms float64 `json:"hook_sched_to_start_p50_ms"`
	// HookEntryP50Ms and HookEntryP99Ms are the hook start latency as the hooks measured it:
	// from the state's timestamp (workflow time) to the hook function starting. It covers every
	// mode, local activities included, which leave no ActivityTaskStarted event; the targets
	// use it.
	HookEntryP50Ms   float64 `json:"hook_entry_p50_ms"`
	HookEntryP99Ms   float64 `json:"hook_entry_p99_ms"`
	ActivityRTTP50Ms float64 `json:"activity_rtt_p50_ms"`
	ActivityRTTP99Ms float64 `json:"activity_rtt_p99_ms"`

	CPUPerFlowMs float64 `json:"cpu_per_flow_ms"`
	// CPUUse is the process's CPU use while the row ran, in cores; OtherCPU the other
	// processes' of the machine (noise the benchmark does not control).
	CPUUse         float64 `json:"cpu_use_cores"`
	OtherCPU       float64 `json:"other_cpu_cores"`
	AllocPerFlowKB float64 `json:"alloc_per_flow_kb"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`

	// Ratios to the row's baseline (raw, or raw concurrent for flowstate concurrent).
	FlowsPerSecX  float64   `json:"flows_per_sec_x"`
	LatencyP50X   float64   `json:"latency_p50_x"`
	EventsDelta   float64   `json:"events_delta"`
	CPUPerFlowX   float64   `json:"cpu_per_flow_x"`
	PeakRSSX      float64   `json:"peak_rss_x"`
	BatchFlowsSec []float64 `json:"batch_flows_per_sec"`
	// BatchDrainMs are, batch by batch, the waits for the server's asynchronous work after the
	// last run closed (see Env.IdleCPU); their CPU counts in CPUPerFlowMs.
	BatchDrainMs []float64 `json:"batch_drain_ms"`
	// RoundRatios are, round by round, the row's flows/s over its baseline's in the same round:
	// a drift of the machine's speed between rounds cancels out of them.
	RoundRatios      []float64 `json:"round_ratios"`
	RoundRatioMedian float64   `json:"round_ratio_median"`
	// RoundCPURatios are, round by round, the row's CPU per flow over its baseline's.
	RoundCPURatios []float64 `json:"round_cpu_ratios"`
	// RoundEventsPerFlow, RoundHookEntryP50Ms and RoundActivityRTTP50Ms are, round by round, the
	// mean events per flow of the histories read, the hooks' start p50 and the task activities'
	// round trip p50: the targets are judged on them.
	RoundEventsPerFlow []float64 `json:"round_events_per_flow"`
	// RoundOtherEventsPerFlow are the same without the workflow task events, whose number in a
	// concurrent flow depends on how its activities' completions happen to arrive.
	RoundOtherEventsPerFlow []float64 `json:"round_other_events_per_flow"`
	RoundHookEntryP50Ms     []float64 `json:"round_hook_entry_p50_ms,omitempty"`
	RoundActivityRTTP50Ms   []float64 `json:"round_activity_rtt_p50_ms"`
}

// Target is one of the targets, checked against the measurements of one row, round by
// round: MET when the mean over the rounds, two standard errors to the unfavourable side, clears
// the bar; MISSED when it misses it two standard errors to the favourable side; else UNSURE.
type Target struct {
	Row  string `json:"row"`
	Name string `json:"name"`
	Want string `json:"want"`
	// Goal is set for the issue's own targets (rows without hooks, and with hooks in the default
	// configuration); the rows of the explicit hook modes are held to the same bars for comparison.
	Goal     bool   `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	// Verdict is MET, MISSED, or UNSURE when the noise of the rounds does not tell.
	Verdict string `json:"verdict"`
	// Value is the mean of Rounds, SE its standard error; Limit the bar, AtMost tells an upper
	// bar from a lower one.
	Value  float64   `json:"value"`
	SE     float64   `json:"se"`
	Limit  float64   `json:"limit"`
	AtMost bool      `json:"at_most,omitempty"`
	Rounds []float64 `json:"rounds"`
}

func (rep *Report) build(rows []*rowRun) {
	rep.examples = rows
	for _, r := range rows {
		rep.Rows = append(rep.Rows, r.summary(rep.Config.Tasks))
	}
	byKey := map[string]*Row{}
	for i := range rep.Rows {
		byKey[rep.Rows[i].Key] = &rep.Rows[i]
	}
	runs := map[string]*rowRun{}
	for _, r := range rows {
		runs[r.spec.key] = r
	}
	for i := range rep.Rows {
		row := &rep.Rows[i]
		base := byKey[row.Baseline]
		mine, theirs := runs[row.Key].batches, runs[row.Baseline].batches
		for k := range min(len(mine), len(theirs)) {
			row.RoundRatios = append(row.RoundRatios, round(ratio(mine[k].rate(), theirs[k].rate()), 3))
			row.RoundCPURatios = append(row.RoundCPURatios, round(ratio(mine[k].cpuPerFlow(), theirs[k].cpuPerFlow()), 3))
		}
		row.RoundRatioMedian = median(row.RoundRatios)
		row.FlowsPerSecX = ratio(row.FlowsPerSec, base.FlowsPerSec)
		row.LatencyP50X = ratio(row.LatencyP50Ms, base.LatencyP50Ms)
		row.EventsDelta = row.EventsPerFlow - base.EventsPerFlow
		row.CPUPerFlowX = ratio(row.CPUPerFlowMs, base.CPUPerFlowMs)
		row.PeakRSSX = ratio(row.PeakRSSMB, base.PeakRSSMB)
		if nh := byKey[row.NoHooks]; nh != nil && row.HookCallsPerFlow > 0 {
			row.EventsPerHook = (row.EventsPerFlow - nh.EventsPerFlow) / row.HookCallsPerFlow
		}
	}
	rep.Targets = targets(rep.Rows, byKey)
}

func (r *rowRun) summary(tasks int) Row {
	row := Row{Key: r.spec.key, Title: r.spec.title, Baseline: r.spec.baseline, Hooks: r.spec.hooks,
		Concurrent: r.spec.concurrent, NoHooks: r.spec.noHooks}
	if r.spec.hooks {
		row.Mode = r.spec.mode.String()
	}
	var done, wall, cpu, others time.Duration
	var allocs uint64
	var lat, startLat, entries []time.Duration
	var hookRuns, hookAttempts int64
	for _, b := range r.batches {
		row.Flows += b.flows
		wall += b.wall
		done += b.done
		row.BatchDrainMs = append(row.BatchDrainMs, round(ms(b.wall-b.done), 0))
		cpu += b.cpu
		others += b.others
		allocs += b.allocs
		lat = append(lat, b.latencies...)
		startLat = append(startLat, b.startLat...)
		hookRuns += b.hooks.calls
		hookAttempts += b.hooks.attempts
		entries = append(entries, b.hooks.entries...)
		if r.spec.hooks {
			row.RoundHookEntryP50Ms = append(row.RoundHookEntryP50Ms, round(ms(percentile(b.hooks.entries, 50)), 3))
		}
		row.PeakRSSMB = math.Max(row.PeakRSSMB, mb(b.peakKB))
		row.BatchFlowsSec = append(row.BatchFlowsSec, round(b.rate(), 1))
	}
	flows := float64(row.Flows)
	row.FlowsPerSec = flows / done.Seconds()
	row.TasksPerSec = row.FlowsPerSec * float64(tasks)
	row.ClientP50Ms, row.ClientP99Ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	row.CPUPerFlowMs = ms(cpu) / flows
	row.CPUUse = cpu.Seconds() / wall.Seconds()
	row.OtherCPU = others.Seconds() / wall.Seconds()
	row.AllocPerFlowKB = float64(allocs) / 1024 / flows
	row.HookRunsPerFlow = float64(hookRuns) / flows
	row.HookAttemptsPerFlow = float64(hookAttempts) / flows
	row.HookEntryP50Ms, row.HookEntryP99Ms = ms(percentile(entries, 50)), ms(percentile(entries, 99))

	row.HistoriesRead = len(r.histories)
	row.ExampleRun = r.example
	row.EventsByType = map[string]float64{}
	row.StartP50Ms = ms(percentile(startLat, 50))
	var hookStart, hookS2S, rtt, server, e2e, firstWait, wftWait []time.Duration
	var hookCalls, localHooks, hookActs, moved, plans int
	roundEvents, allEvents := make([]float64, len(r.batches)), make([]float64, len(r.batches))
	roundWFT, allWFT := make([]float64, len(r.batches)), make([]float64, len(r.batches))
	roundRuns, allRuns := make([]int, len(r.batches)), make([]int, len(r.batches))
	roundRTT := make([][]time.Duration, len(r.batches))
	// The history figures leave out the runs a failed or timed-out workflow task disturbed (the
	// machine's doing, not the workload's), unless every run was.
	counted := func(h runHistory) bool { return h.failedWFTs == 0 }
	for _, h := range r.histories {
		if h.failedWFTs > 0 {
			row.DisturbedRuns++
		}
	}
	if row.DisturbedRuns == len(r.histories) {
		counted = func(runHistory) bool { return true }
	}
	countedRuns := 0
	for i, h := range r.histories {
		roundRTT[h.batch] = append(roundRTT[h.batch], h.activityRTT...)
		allEvents[h.batch] += float64(h.events)
		allWFT[h.batch] += float64(h.wftEvents())
		allRuns[h.batch]++
		if counted(h) {
			countedRuns++
			roundEvents[h.batch] += float64(h.events)
			roundWFT[h.batch] += float64(h.wftEvents())
			roundRuns[h.batch]++
			hookActs += h.hookActivities
			moved += h.movedHooks
			plans += h.planMarkers
			row.EventsPerFlow += float64(h.events)
			row.HistoryKBPerFlow += float64(h.bytes) / 1024
			row.MemoKBPerFlow += float64(h.memoBytes) / 1024
			if row.EventsMin == 0 || h.events < row.EventsMin {
				row.EventsMin = h.events
			}
			row.EventsMax = max(row.EventsMax, h.events)
			for t, n := range h.byType {
				row.EventsByType[t] += float64(n)
			}
			hookCalls += h.hookCalls
			localHooks += h.localHooks
		}
		hookStart = append(hookStart, h.hookStart...)
		hookS2S = append(hookS2S, h.hookSchedToStart...)
		rtt = append(rtt, h.activityRTT...)
		server = append(server, h.serverTime)
		firstWait = append(firstWait, h.firstWFTWait)
		wftWait = append(wftWait, h.wftWait...)
		run := r.sampled[i]
		e2e = append(e2e, h.closeTime.Sub(run.began))
		if run.returned.Sub(h.closeTime) > 250*time.Millisecond {
			row.ClientStalls++
		}
	}
	if n := float64(countedRuns); n > 0 {
		row.EventsPerFlow /= n
		row.HistoryKBPerFlow /= n
		row.MemoKBPerFlow /= n
		for t := range row.EventsByType {
			row.EventsByType[t] /= n
		}
		row.HookCallsPerFlow = float64(hookCalls) / n
		row.LocalHooksPerFlow = float64(localHooks) / n
		row.HookActivitiesPerFlow = float64(hookActs) / n
		row.MovedHooksPerFlow = float64(moved) / n
		row.PlanMarkersPerFlow = float64(plans) / n
	}
	for k := range r.batches {
		if roundRuns[k] == 0 { // every run of the round was disturbed
			roundEvents[k], roundWFT[k], roundRuns[k] = allEvents[k], allWFT[k], allRuns[k]
		}
		row.RoundEventsPerFlow = append(row.RoundEventsPerFlow, round(roundEvents[k]/max(float64(roundRuns[k]), 1), 3))
		row.RoundOtherEventsPerFlow = append(row.RoundOtherEventsPerFlow, round((roundEvents[k]-roundWFT[k])/max(float64(roundRuns[k]), 1), 3))
		row.RoundActivityRTTP50Ms = append(row.RoundActivityRTTP50Ms, round(ms(percentile(roundRTT[k], 50)), 3))
	}
	row.HookStartP50Ms, row.HookStartP99Ms = ms(percentile(hookStart, 50)), ms(percentile(hookStart, 99))
	row.HookSchedToStartP50Ms = ms(percentile(hookS2S, 50))
	row.LatencyP50Ms, row.LatencyP99Ms = ms(percentile(e2e, 50)), ms(percentile(e2e, 99))
	row.FirstWFTWaitP50Ms, row.FirstWFTWaitP99Ms = ms(percentile(firstWait, 50)), ms(percentile(firstWait, 99))
	row.WFTWaitP50Ms, row.WFTWaitP99Ms = ms(percentile(wftWait, 50)), ms(percentile(wftWait, 99))
	row.ServerP50Ms, row.ServerP99Ms = ms(percentile(server, 50)), ms(percentile(server, 99))
	row.ActivityRTTP50Ms, row.ActivityRTTP99Ms = ms(percentile(rtt, 50)), ms(percentile(rtt, 99))
	return row
}

// The bars.
const (
	barNoHooksThroughput = 0.97 // × raw flows/s
	barNoHooksEvents     = 2    // events per flow over raw
	barHooksThroughput   = 0.8  // × raw flows/s
	barEventsPerHook     = 1.5  // history events per fired hook
	barHookStart         = 2    // × one plain activity round trip (p50)
)

// targets checks the targets on every flowstate row that was measured, round by round.
func targets(rows []Row, byKey map[string]*Row) []Target {
	var out []Target
	raw := byKey[rowRaw]
	for i := range rows {
		r := &rows[i]
		spec, _ := specByKey(r.Key)
		if !spec.flowstate {
			continue
		}
		base := byKey[r.Baseline]
		goal := spec.target()
		if !r.Hooks {
			out = append(out,
				judge(r, goal, "throughput", "≥ 0.97× raw flows/s", r.RoundRatios, barNoHooksThroughput, false,
					fmt.Sprintf("pooled %.3f× (%.1f vs %.1f flows/s), CPU per flow %.2f×", r.FlowsPerSecX, r.FlowsPerSec, base.FlowsPerSec, r.CPUPerFlowX)),
				judge(r, goal, "history", fmt.Sprintf("≤ %s + 2 events per flow", base.Title), diffs(r.RoundEventsPerFlow, base.RoundEventsPerFlow), barNoHooksEvents, true,
					fmt.Sprintf("%.1f vs %.1f events (%s)", r.EventsPerFlow, base.EventsPerFlow, eventDiff(r, base))))
			if r.Concurrent {
				// How many workflow tasks a concurrent flow needs depends on when its activities
				// complete, for raw and flowstate alike: the same bar without them, for comparison.
				out = append(out, judge(r, false, "history, workflow tasks aside", fmt.Sprintf("≤ %s + 2 events per flow", base.Title),
					diffs(r.RoundOtherEventsPerFlow, base.RoundOtherEventsPerFlow), barNoHooksEvents, true,
					fmt.Sprintf("%.2f vs %.2f workflow tasks per flow", eventsWithPrefix(r, "WorkflowTaskCompleted"), eventsWithPrefix(base, "WorkflowTaskCompleted"))))
			}
			continue
		}
		nh := byKey[r.NoHooks]
		perHook := make([]float64, 0, len(r.RoundEventsPerFlow))
		for _, d := range diffs(r.RoundEventsPerFlow, nh.RoundEventsPerFlow) {
			perHook = append(perHook, round(ratio(d, r.HookCallsPerFlow), 3))
		}
		start := make([]float64, 0, len(r.RoundHookEntryP50Ms))
		for k := range min(len(r.RoundHookEntryP50Ms), len(raw.RoundActivityRTTP50Ms)) {
			start = append(start, round(ratio(r.RoundHookEntryP50Ms[k], raw.RoundActivityRTTP50Ms[k]), 3))
		}
		out = append(out,
			judge(r, goal, "throughput", "≥ 0.8× raw flows/s", r.RoundRatios, barHooksThroughput, false,
				fmt.Sprintf("pooled %.3f× (%.1f vs %.1f flows/s), CPU per flow %.2f×", r.FlowsPerSecX, r.FlowsPerSec, base.FlowsPerSec, r.CPUPerFlowX)),
			judge(r, goal, "history per fired hook", "≤ 1.5 events", perHook, barEventsPerHook, true,
				fmt.Sprintf("%.1f hook calls per flow; %.1f vs %.1f events (%s); vs %s %+.1f events: %.2f per hook",
					r.HookCallsPerFlow, r.EventsPerFlow, nh.EventsPerFlow, eventDiff(r, nh), base.Title,
					r.EventsPerFlow-base.EventsPerFlow, ratio(r.EventsPerFlow-base.EventsPerFlow, r.HookCallsPerFlow))),
			judge(r, goal, "hook start p50", "≤ 2× one raw activity round trip p50", start, barHookStart, true,
				fmt.Sprintf("%.2f ms vs %.2f ms (p50 over all rounds; the hooks' own clock%s)", r.HookEntryP50Ms, raw.ActivityRTTP50Ms, historyStart(r))))
	}
	return out
}

// judge returns the verdict of one target over per-round values.
func judge(r *Row, goal bool, name, want string, rounds []float64, limit float64, atMost bool, detail string) Target {
	m, se := meanSE(rounds)
	var met, missed bool
	if atMost {
		met, missed = m+2*se <= limit, m-2*se > limit
	} else {
		met, missed = m-2*se >= limit, m+2*se < limit
	}
	if len(rounds) == 0 {
		met, missed = false, false
	}
	return Target{
		Row: r.Key, Name: r.Title + ": " + name, Want: want, Goal: goal,
		Met: met, Verdict: verdictOf(met, missed), Value: round(m, 4), SE: round(se, 4), Limit: limit, AtMost: atMost, Rounds: rounds,
		Measured: fmt.Sprintf("%.3f ± %.3f (rounds %s, mean ± 2 s.e.); %s", m, 2*se, fmtRatios(rounds), detail),
	}
}

// diffs returns a[k] − b[k], round by round.
func diffs(a, b []float64) []float64 {
	out := make([]float64, 0, len(a))
	for k := range min(len(a), len(b)) {
		out = append(out, round(a[k]-b[k], 3))
	}
	return out
}

// eventDiff explains the difference of events per flow between two rows by kind of event.
func eventDiff(r, base *Row) string {
	act := eventsWithPrefix(r, "ActivityTask") - eventsWithPrefix(base, "ActivityTask")
	wft := eventsWithPrefix(r, "WorkflowTask") - eventsWithPrefix(base, "WorkflowTask")
	marker := eventsWithPrefix(r, "MarkerRecorded") - eventsWithPrefix(base, "MarkerRecorded")
	other := r.EventsPerFlow - base.EventsPerFlow - act - wft - marker
	return fmt.Sprintf("%+.1f activity, %+.1f workflow task, %+.1f marker, %+.1f other", act, wft, marker, other)
}

// historyStart adds the hook start the history shows, for hooks run as activities.
func historyStart(r *Row) string {
	if r.HookActivitiesPerFlow == 0 {
		return ""
	}
	return fmt.Sprintf("; in history, to ActivityTaskStarted: %.2f ms", r.HookStartP50Ms)
}

// verdictOf names a target's outcome.
func verdictOf(met, missed bool) string {
	switch {
	case met:
		return "MET"
	case missed:
		return "MISSED"
	}
	return "UNSURE"
}

// meanSE returns the mean of v and its standard error (0 for fewer than two values).
func meanSE(v []float64) (mean, se float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(len(v)-1)) / math.Sqrt(float64(len(v)))
}

func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, "/")
}

// eventsWithPrefix counts a row's events per flow whose type starts with prefix.
func eventsWithPrefix(r *Row, prefix string) float64 {
	var n float64
	for t, v := range r.EventsByType {
		if strings.HasPrefix(t, prefix) {
			n += v
		}
	}
	return n
}

// WriteTable writes the report as text tables.
func (rep *Report) WriteTable(w io.Writer) error {
	c := rep.Config
	fmt.Fprintf(w, "flowstate-bench: %d flows × %d tasks per row, %d in flight, %d rounds (+%d warm-up flows per row); %s, %d CPUs, GOMAXPROCS %d; took %s\n",
		c.Flows, c.Tasks, c.Concurrency, c.Rounds, c.Warmup, rep.Env.GoVersion, rep.Env.CPUs, rep.Env.GOMAXPROCS, rep.Env.Elapsed)
	if c.NoSweeper {
		fmt.Fprintf(w, "crash sweeper off\n")
	}
	if len(c.ServerConfig) > 0 {
		fmt.Fprintf(w, "server dynamic config over the dev defaults: %s\n", dynamicConfigFlag(c.ServerConfig))
	}
	fmt.Fprintf(w, "one process: in-process Temporal server + raw worker + flowstate worker + client. RSS: %.0f MB before the server, %.0f MB server only (idle), %.0f MB with both workers (idle); peak RSS per row from %s.\n\n",
		rep.Env.ProcessRSSMB, rep.Env.ServerIdleRSSMB, rep.Env.IdleRSSMB, rep.Env.PeakRSSFrom)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\tflows/s\t×flows/s\tp50 ms\tp99 ms\t×p50\tevents/flow\tΔevents\thooks/flow\tevents/hook\thook start p50 ms\tp99 ms\tactivity RTT p50 ms\tCPU ms/flow\t×CPU\tcores\tothers\tpeak RSS MB\tvs\t")
	for _, r := range rep.Rows {
		hooksCols := "-\t-\t-\t-"
		if r.Hooks {
			hooksCols = fmt.Sprintf("%.1f\t%.2f\t%.2f\t%.2f", r.HookCallsPerFlow, r.EventsPerHook, r.HookEntryP50Ms, r.HookEntryP99Ms)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.3f\t%.0f\t%.0f\t%.2f\t%.1f\t%+.1f\t%s\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.0f\t%s\t\n",
			r.Title, r.FlowsPerSec, r.FlowsPerSecX, r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyP50X, r.EventsPerFlow, r.EventsDelta,
			hooksCols, r.ActivityRTTP50Ms, r.CPUPerFlowMs, r.CPUPerFlowX, r.CPUUse, r.OtherCPU, r.PeakRSSMB, baselineTitle(rep, r.Baseline))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nhistory events per flow, by type (mean over the histories read):\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "event type\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t", r.Title)
	}
	fmt.Fprintln(tw)
	for _, t := range eventTypes(rep.Rows) {
		fmt.Fprintf(tw, "%s\t", t)
		for _, r := range rep.Rows {
			fmt.Fprintf(tw, "%.1f\t", r.EventsByType[t])
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "total\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%.1f\t", r.EventsPerFlow)
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "history KB\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%.1f\t", r.HistoryKBPerFlow)
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "of which memo KB\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%.1f\t", r.MemoKBPerFlow)
	}
	fmt.Fprintln(tw)
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(rep.Targets) > 0 {
		fmt.Fprintf(w, "\ntargets, judged round by round: MET when the mean over the rounds, 2 standard errors to the unfavourable side, clears the bar; MISSED when it misses it 2 s.e. to the favourable side; else UNSURE. \"goal\": flowstate's performance targets (no hooks, and hooks in the default configuration); \"info\": the explicit modes, held to the same bars.\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, t := range rep.Targets {
			kind := "info"
			if t.Goal {
				kind = "goal"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Verdict, kind, t.Name, t.Want, t.Measured)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	var disturbed []string
	for _, r := range rep.Rows {
		if r.DisturbedRuns > 0 {
			disturbed = append(disturbed, fmt.Sprintf("%s %d", r.Title, r.DisturbedRuns))
		}
	}
	if len(disturbed) > 0 {
		fmt.Fprintf(w, "\nruns left out of the history figures, a workflow task of theirs having failed or timed out (an overloaded machine): %s\n", strings.Join(disturbed, ", "))
	}
	fmt.Fprintf(w, "\nhooks/flow = hook calls in the histories (local activity markers and activities of flowstate.hook); events/hook = (events/flow − the same flow's without hooks) / hooks/flow.\n"+
		"hook start = the hook function's start, on the worker's clock, − the state's timestamp (workflow time: the WorkflowTaskStarted of the workflow task that entered the state).\n"+
		"activity RTT = per task activity, WorkflowTaskStarted of the task that scheduled it → WorkflowTaskStarted of the first task after it closed.\n")
	return nil
}

// WriteTimelines writes the history of one run of each row, event by event.
func (rep *Report) WriteTimelines(w io.Writer) {
	for _, r := range rep.examples {
		fmt.Fprintf(w, "\n%s: history of %s (median duration on the server)\n", r.spec.title, r.example)
		writeTimeline(w, r.exampleEvents)
		fmt.Fprintf(w, "\n%s: history of %s (slowest on the server)\n", r.spec.title, r.slowest)
		writeTimeline(w, r.slowestEvents)
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func baselineTitle(rep *Report, key string) string {
	for _, r := range rep.Rows {
		if r.Key == key {
			return r.Title
		}
	}
	return key
}

// eventTypes lists the event types seen in any row, in the order of a workflow's life, then by
// name.
func eventTypes(rows []Row) []string {
	seen := map[string]bool{}
	for _, r := range rows {
		for t := range r.EventsByType {
			seen[t] = true
		}
	}
	types := make([]string, 0, len(seen))
	for t := range seen {
		types = append(types, t)
	}
	rank := func(t string) int {
		switch {
		case strings.HasPrefix(t, "WorkflowExecutionStarted"):
			return 0
		case strings.HasPrefix(t, "WorkflowTask"):
			return 1
		case strings.HasPrefix(t, "ActivityTask"):
			return 2
		case strings.HasPrefix(t, "WorkflowExecution"):
			return 4
		}
		return 3
	}
	sort.Slice(types, func(i, j int) bool {
		if ri, rj := rank(types[i]), rank(types[j]); ri != rj {
			return ri < rj
		}
		return types[i] < types[j]
	})
	return types
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
