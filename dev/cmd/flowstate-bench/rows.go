package main

import (
	"fmt"
	"strings"

	"github.com/flowstate/flowstate/hooks"
)

// A row is one variant of the workload, measured side by side with the others.
type rowSpec struct {
	// key is the row's name in the -rows flag and in the JSON output.
	key string
	// title is the row's name in the table.
	title string
	// baseline is the key of the raw row the row's ratios are taken against.
	baseline string
	// noHooks is, for a row with hooks, the key of the row of the same shape without them: what
	// the hooks add to a run's history is measured against it.
	noHooks string
	// flowstate tells a flowstate row from a raw one.
	flowstate bool
	// concurrent tells the rows whose tasks are started all at once.
	concurrent bool
	// hooks tells the rows with hooks on every event, and mode how their calls run: ModeDefault
	// is the default configuration (a worker with no HookDefaults: ModeAuto).
	hooks bool
	mode  hooks.Mode
	start func(b *bench) starter
}

// target tells whether the targets apply to the row: the rows without hooks and those
// with hooks in the default configuration. The rows of the explicit modes are measured against
// the same bars, for comparison.
func (s rowSpec) target() bool { return s.flowstate && s.mode == hooks.ModeDefault }

// Row keys.
const (
	rowRaw                     = "raw"
	rowFlowstate               = "flowstate"
	rowHooks                   = "hooks"
	rowHooksActivity           = "hooks-activity"
	rowHooksLocal              = "hooks-local"
	rowCLI                     = "cli"
	rowRawConcurrent           = "raw-concurrent"
	rowConcurrent              = "concurrent"
	rowConcurrentHooks         = "concurrent-hooks"
	rowConcurrentHooksActivity = "concurrent-hooks-activity"
	rowConcurrentHooksLocal    = "concurrent-hooks-local"
)

// rowSpecs are every row the benchmark knows, in table order.
var rowSpecs = []rowSpec{
	{key: rowRaw, title: "raw", baseline: rowRaw,
		start: func(b *bench) starter { return startWorkflow(b.c, b.rawQueue, rawWorkflow) }},
	{key: rowFlowstate, title: "flowstate, no hooks", baseline: rowRaw, flowstate: true,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.flow(false, false, 0)) }},
	hookRow(rowHooks, "flowstate, hooks", false, hooks.ModeDefault),
	hookRow(rowHooksActivity, "flowstate, hooks", false, hooks.ModeActivity),
	hookRow(rowHooksLocal, "flowstate, hooks", false, hooks.ModeLocal),
	{key: rowCLI, title: "flowstate, CLI start", baseline: rowRaw, flowstate: true,
		start: func(b *bench) starter { return startWorkflow(b.c, b.fsQueue, flowName(false, false, 0)) }},
	{key: rowRawConcurrent, title: "raw, concurrent", baseline: rowRawConcurrent, concurrent: true,
		start: func(b *bench) starter { return startWorkflow(b.c, b.rawQueue, rawConcurrentWorkflow) }},
	{key: rowConcurrent, title: "flowstate, concurrent", baseline: rowRawConcurrent, flowstate: true, concurrent: true,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.flow(true, false, 0)) }},
	hookRow(rowConcurrentHooks, "flowstate, concurrent, hooks", true, hooks.ModeDefault),
	hookRow(rowConcurrentHooksActivity, "flowstate, concurrent, hooks", true, hooks.ModeActivity),
	hookRow(rowConcurrentHooksLocal, "flowstate, concurrent, hooks", true, hooks.ModeLocal),
}

// hookRow is the spec of a row with no-op hooks on every event of the flow and its tasks, run in
// mode (ModeDefault: the default configuration).
func hookRow(key, title string, concurrent bool, mode hooks.Mode) rowSpec {
	s := rowSpec{key: key, title: title + " (" + modeLabel(mode) + ")", baseline: rowRaw, noHooks: rowFlowstate,
		flowstate: true, concurrent: concurrent, hooks: true, mode: mode,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.flow(concurrent, true, mode)) }}
	if concurrent {
		s.baseline, s.noHooks = rowRawConcurrent, rowConcurrent
	}
	return s
}

// modeLabel names a hook mode in row titles: "default" is the default configuration, ModeAuto.
func modeLabel(m hooks.Mode) string {
	if m == hooks.ModeDefault {
		return "default: auto"
	}
	return m.String()
}

// DefaultRows are the rows measured when -rows is not given: every row but cli.
var DefaultRows = []string{
	rowRaw, rowFlowstate, rowHooks, rowHooksActivity, rowHooksLocal,
	rowRawConcurrent, rowConcurrent, rowConcurrentHooks, rowConcurrentHooksActivity, rowConcurrentHooksLocal,
}

// selectRows returns the specs of the rows named in keys, in table order. A flowstate row whose
// raw baseline is not selected is compared with raw, which is always measured; a row with hooks
// whose row without hooks is not selected has that row measured too.
func selectRows(keys []string) ([]rowSpec, error) {
	want := map[string]bool{rowRaw: true}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		s, ok := specByKey(k)
		if !ok {
			return nil, fmt.Errorf("unknown row %q (rows: %s)", k, strings.Join(allRowKeys(), ", "))
		}
		want[k] = true
		if s.noHooks != "" {
			want[s.noHooks] = true
		}
	}
	var out []rowSpec
	for _, s := range rowSpecs {
		if !want[s.key] {
			continue
		}
		if !want[s.baseline] {
			s.baseline = rowRaw
		}
		out = append(out, s)
	}
	return out, nil
}

func specByKey(key string) (rowSpec, bool) {
	for _, s := range rowSpecs {
		if s.key == key {
			return s, true
		}
	}
	return rowSpec{}, false
}

func allRowKeys() []string {
	keys := make([]string, len(rowSpecs))
	for i, s := range rowSpecs {
		keys[i] = s.key
	}
	return keys
}
