package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
	}
	require.Contains(t, out, "history events per flow, by type")
	require.Contains(t, out, "targets (issue 6)")
}

// TestBenchReport checks the report of a tiny run: every row, throughput, history.
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
		require.Equal(t, float64(cfg.Tasks), r.EventsByType["ActivityTaskScheduled"]-hookEvents(r), r.Key)
	}
	// What the history of each row must hold, whatever the machine's speed.
	raw := byKey[rowRaw]
	require.Equal(t, 1.0, raw.FlowsPerSecX)
	require.Zero(t, raw.HookCallsPerFlow)
	fs := byKey[rowFlowstate]
	require.Zero(t, fs.HookCallsPerFlow)
	require.Equal(t, 1.0, fs.EventsByType["WorkflowPropertiesModified"], "the state history memo")
	// 1 flow on_running + per task on_running and on_completion + 1 flow on_completion.
	hooked := byKey[rowHooks]
	wantHooks := float64(2 + 2*cfg.Tasks)
	require.Equal(t, wantHooks, hooked.HookCallsPerFlow)
	require.Equal(t, wantHooks, hooked.HookRunsPerFlow, "every scheduled hook ran once")
	require.Positive(t, hooked.HookStartP50Ms)
	require.Equal(t, rowRawConcurrent, byKey[rowConcurrent].Baseline)

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Len(t, back.Rows, len(rep.Rows))
	require.Len(t, back.Targets, 4)
}

func TestSelectRows(t *testing.T) {
	specs, err := selectRows([]string{"hooks"})
	require.NoError(t, err)
	require.Equal(t, []string{rowRaw, rowHooks}, keys(specs), "raw is always measured")

	specs, err = selectRows([]string{"concurrent"})
	require.NoError(t, err)
	require.Equal(t, rowRaw, specs[1].baseline, "without raw concurrent, concurrent is compared with raw")

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

func hookEvents(r Row) float64 { return r.HookCallsPerFlow }

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
