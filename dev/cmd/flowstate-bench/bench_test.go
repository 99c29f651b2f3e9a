package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/hooks"
)

// TestBenchSmall runs the benchmark at a tiny size through the command's own code path, so that
// it cannot rot, and checks that the table is sane. It asserts no speed: the numbers are printed
// for whoever reads the log, and the targets are judged in BENCHMARKS.md.
func TestBenchSmall(t *testing.T) {
	var table, progress bytes.Buffer
	err := run([]string{"-small", "-json=false"}, &table, &progress)
	if err != nil {
		t.Log(progress.String())
	}
	require.NoError(t, err)
	t.Log("\n" + table.String())
	reportFile(t, "flowstate-bench-small.txt", table.Bytes())

	out := table.String()
	for _, s := range rowSpecs {
		if !contains(SmallConfig.Rows, s.key) {
			continue
		}
		require.Contains(t, out, s.title, "row %s missing from the table", s.key)
		if s.flowstate {
			require.Contains(t, out, s.title+": throughput", "row %s has no verdicts", s.key)
		}
	}
	require.Contains(t, out, "history events per flow, by type")
	require.Contains(t, out, "targets, judged round by round")
}

// TestBenchReport checks the report of a tiny run: every row, throughput, and what the history
// of each row must hold whatever the machine's speed — the events each hook mode costs, one hook
// run per hook call, and no more than 2 events per flow for flowstate without hooks.
func TestBenchReport(t *testing.T) {
	cfg := Config{Flows: 4, Tasks: 2, Concurrency: 2, Rounds: 2, Warmup: 1, Rows: DefaultRows}
	rep, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)

	require.Len(t, rep.Rows, len(DefaultRows))
	// A flow without hooks records no plan: it costs raw + 2 events (the search attribute upsert
	// and the state history memo), whatever deploys change later (issue 9). Checked before the
	// other rows, on its own.
	events := map[string]float64{}
	for _, r := range rep.Rows {
		events[r.Key] = r.EventsPerFlow
	}
	t.Logf("history events per flow: raw %.1f, flowstate without hooks %.1f", events[rowRaw], events[rowFlowstate])
	require.LessOrEqual(t, events[rowFlowstate], events[rowRaw]+2, "flowstate without hooks: events per flow over raw + 2")
	byKey := map[string]Row{}
	for _, r := range rep.Rows {
		byKey[r.Key] = r
		require.Equal(t, cfg.Flows, r.Flows, r.Key)
		require.Equal(t, cfg.Flows, r.HistoriesRead, r.Key)
		require.Positive(t, r.FlowsPerSec, r.Key)
		require.InDelta(t, r.FlowsPerSec*float64(cfg.Tasks), r.TasksPerSec, 1e-9, r.Key)
		require.Positive(t, r.LatencyP50Ms, r.Key)
		require.GreaterOrEqual(t, r.LatencyP99Ms, r.LatencyP50Ms, r.Key)
		require.Positive(t, r.EventsPerFlow, r.Key)
		require.Positive(t, r.PeakRSSMB, r.Key)
		require.Len(t, r.RoundRatios, cfg.Rounds, r.Key)
		require.Len(t, r.RoundEventsPerFlow, cfg.Rounds, r.Key)
		// Every task is one activity, whatever the row: hooks add only flowstate.hook ones.
		require.Equal(t, float64(cfg.Tasks), r.EventsByType["ActivityTaskScheduled"]-r.HookActivitiesPerFlow, r.Key)
	}
	raw, rawConc := byKey[rowRaw], byKey[rowRawConcurrent]
	require.Equal(t, 1.0, raw.FlowsPerSecX)
	require.Zero(t, raw.HookCallsPerFlow)
	require.Positive(t, raw.ActivityRTTP50Ms)
	require.Len(t, raw.RoundActivityRTTP50Ms, cfg.Rounds)

	// Without hooks: the FlowState upsert and the state history memo, nothing else — no plan
	// marker, no hook, no extra workflow task.
	for _, key := range []string{rowFlowstate, rowConcurrent} {
		fs, base := byKey[key], byKey[byKey[key].Baseline]
		require.Zero(t, fs.HookCallsPerFlow, key)
		require.Zero(t, fs.PlanMarkersPerFlow, key)
		require.Equal(t, 1.0, fs.EventsByType["UpsertWorkflowSearchAttributes"], key)
		require.Equal(t, 1.0, fs.EventsByType["WorkflowPropertiesModified"], "%s: the state history memo", key)
		require.LessOrEqual(t, nonWorkflowTaskEvents(fs), nonWorkflowTaskEvents(base)+2, key)
	}
	// A sequential flow's workflow tasks do not depend on timing: the whole history is ≤ raw + 2.
	require.LessOrEqual(t, byKey[rowFlowstate].EventsPerFlow, raw.EventsPerFlow+2)
	require.Equal(t, rowRawConcurrent, byKey[rowConcurrent].Baseline)

	// With hooks: flow on_running and on_completion, and each task's on_running and
	// on_completion, fire; each call runs once (the no-op hooks never fail); the flow's plan and
	// its task's plan are recorded once each. How many workflow tasks a concurrent flow needs
	// depends on how its completions arrive, so only sequential flows have their total checked.
	wantHooks := float64(2 + 2*cfg.Tasks)
	for _, s := range rowSpecs {
		if !s.hooks {
			continue
		}
		r, nh := byKey[s.key], byKey[s.noHooks]
		require.Equal(t, wantHooks, r.HookCallsPerFlow, "%s: hook calls in history", s.key)
		require.Equal(t, wantHooks, r.HookRunsPerFlow, "%s: every hook call in history ran, and no other", s.key)
		require.GreaterOrEqual(t, r.HookAttemptsPerFlow, r.HookRunsPerFlow, s.key)
		require.Zero(t, r.MovedHooksPerFlow, "%s: no call moved to an activity", s.key)
		require.Equal(t, 2.0, r.PlanMarkersPerFlow, "%s: the flow's plan and the task's", s.key)
		require.Positive(t, r.HookEntryP50Ms, s.key)
		require.Len(t, r.RoundHookEntryP50Ms, cfg.Rounds, s.key)
		extra := r.EventsPerFlow - nh.EventsPerFlow
		switch s.mode {
		case hooks.ModeDefault, hooks.ModeLocal:
			// One marker per call, in the workflow task that entered the state: no activity, and
			// (sequential flows) not one workflow task more.
			require.Equal(t, wantHooks, r.LocalHooksPerFlow, s.key)
			require.Zero(t, r.HookActivitiesPerFlow, s.key)
			require.Equal(t, wantHooks+2, r.EventsByType["MarkerRecorded"], s.key)
			if !s.concurrent {
				require.Equal(t, wantHooks+2, extra, "%s: 1 event per hook, plus the 2 plans", s.key)
				require.LessOrEqual(t, r.EventsPerHook, 1.5, s.key)
			}
		case hooks.ModeActivity:
			// An activity (3 events) per call; in a sequential flow each also needs the workflow
			// task that resumes the run after it (3 more).
			require.Zero(t, r.LocalHooksPerFlow, s.key)
			require.Equal(t, wantHooks, r.HookActivitiesPerFlow, s.key)
			require.Equal(t, 3*wantHooks, eventsWithPrefix(&r, "ActivityTask")-eventsWithPrefix(&nh, "ActivityTask"), s.key)
			if !s.concurrent {
				require.Equal(t, 6*wantHooks+2, extra, "%s: 6 events per hook, plus the 2 plans", s.key)
			}
		default:
			t.Fatalf("row %s: unexpected mode %s", s.key, s.mode)
		}
	}

	// Every flowstate row is judged: 2 targets without hooks (and one for comparison in the
	// concurrent row), 3 with.
	judged := map[string]int{}
	for _, tg := range rep.Targets {
		judged[tg.Row]++
		require.Len(t, tg.Rounds, cfg.Rounds, tg.Name)
		require.Contains(t, []string{"MET", "MISSED", "UNSURE"}, tg.Verdict, tg.Name)
		spec, _ := specByKey(tg.Row)
		require.Equal(t, spec.target() && !strings.Contains(tg.Name, "workflow tasks aside"), tg.Goal, tg.Name)
		if strings.Contains(tg.Name, "workflow tasks aside") {
			require.Equal(t, "MET", tg.Verdict, "flowstate adds exactly 2 events that are not workflow tasks: %s", tg.Measured)
		}
	}
	for _, s := range rowSpecs {
		switch {
		case !s.flowstate || !contains(DefaultRows, s.key):
			require.Zero(t, judged[s.key], s.key)
		case s.hooks:
			require.Equal(t, 3, judged[s.key], s.key)
		case s.concurrent:
			require.Equal(t, 3, judged[s.key], s.key)
		default:
			require.Equal(t, 2, judged[s.key], s.key)
		}
	}
	require.Equal(t, 0.0, rawConc.HookCallsPerFlow)

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Len(t, back.Rows, len(rep.Rows))
	require.Len(t, back.Targets, len(rep.Targets))
}

// TestJudge checks the verdicts: the mean over the rounds, two standard errors to the
// unfavourable side, must clear the bar.
func TestJudge(t *testing.T) {
	r := &Row{Key: "k", Title: "row"}
	for _, tc := range []struct {
		name    string
		rounds  []float64
		limit   float64
		atMost  bool
		verdict string
	}{
		{"clear above", []float64{0.90, 0.91, 0.89, 0.90}, 0.8, false, "MET"},
		{"mean above, noise across", []float64{0.70, 0.95, 0.75, 0.92}, 0.8, false, "UNSURE"},
		{"clear below", []float64{0.50, 0.52, 0.49, 0.51}, 0.8, false, "MISSED"},
		{"at the bar exactly", []float64{2, 2, 2}, 2, true, "MET"},
		{"over an upper bar", []float64{6.1, 6.2}, 1.5, true, "MISSED"},
		{"under an upper bar, noisy", []float64{1.0, 2.0}, 1.5, true, "UNSURE"},
		{"no rounds", nil, 1, false, "UNSURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(r, true, "x", "want", tc.rounds, tc.limit, tc.atMost, "")
			require.Equal(t, tc.verdict, got.Verdict)
			require.Equal(t, tc.verdict == "MET", got.Met)
		})
	}
}

// nonWorkflowTaskEvents counts a row's events per flow that are not workflow task events: how
// many workflow tasks a concurrent flow needs depends on how its activities' completions
// happen to arrive, for raw and flowstate alike.
func nonWorkflowTaskEvents(r Row) float64 {
	return r.EventsPerFlow - eventsWithPrefix(&r, "WorkflowTask")
}

func TestSelectRows(t *testing.T) {
	specs, err := selectRows([]string{"hooks"})
	require.NoError(t, err)
	require.Equal(t, []string{rowRaw, rowFlowstate, rowHooks}, keys(specs), "raw is always measured, and a row with hooks brings its row without")

	specs, err = selectRows([]string{"concurrent"})
	require.NoError(t, err)
	require.Equal(t, rowRaw, specs[1].baseline, "without raw concurrent, concurrent is compared with raw")

	specs, err = selectRows([]string{"concurrent-hooks-local"})
	require.NoError(t, err)
	require.Equal(t, []string{rowRaw, rowConcurrent, rowConcurrentHooksLocal}, keys(specs), "a row with hooks brings its row without")

	_, err = selectRows([]string{"nope"})
	require.ErrorContains(t, err, `unknown row "nope"`)
}

func TestFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-flows", "0"}, &out, &errOut)
	require.ErrorContains(t, err, "flows must be at least 1")
	err = run([]string{"-server-config", "nokey"}, &out, &errOut)
	require.Error(t, err)
	err = run([]string{"extra"}, &out, &errOut)
	require.ErrorContains(t, err, "unexpected arguments")

	d := dynamicConfigFlag{}
	require.NoError(t, d.Set("a=1"))
	require.NoError(t, d.Set("b=true"))
	require.NoError(t, d.Set("c=x"))
	require.Equal(t, dynamicConfigFlag{"a": 1, "b": true, "c": "x"}, d)
}

func keys(specs []rowSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.key)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.TrimSpace(v) == s {
			return true
		}
	}
	return false
}

// reportFile writes a report into $FLOWSTATE_REPORT_DIR when it is set, so that CI can print what
// go test hides for passing tests.
func reportFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if dir := os.Getenv("FLOWSTATE_REPORT_DIR"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
}
