package main

import (
	"fmt"
	"strings"
)

// A row is one variant of the workload, measured side by side with the others.
type rowSpec struct {
	// key is the row's name in the -rows flag and in the JSON output.
	key string
	// title is the row's name in the table.
	title string
	// baseline is the key of the raw row the row's ratios are taken against.
	baseline string
	// flowstate tells a flowstate row from a raw one.
	flowstate bool
	// concurrent tells the rows whose tasks are started all at once.
	concurrent bool
	start      func(b *bench) starter
}

// Row keys.
const (
	rowRaw           = "raw"
	rowFlowstate     = "flowstate"
	rowHooks         = "hooks"
	rowConcurrent    = "concurrent"
	rowRawConcurrent = "raw-concurrent"
	rowCLI           = "cli"
)

// rowSpecs are every row the benchmark knows, in table order.
var rowSpecs = []rowSpec{
	{key: rowRaw, title: "raw", baseline: rowRaw,
		start: func(b *bench) starter { return startWorkflow(b.c, b.rawQueue, rawWorkflow) }},
	{key: rowFlowstate, title: "flowstate, no hooks", baseline: rowRaw, flowstate: true,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.noHooks) }},
	{key: rowHooks, title: "flowstate, hooks", baseline: rowRaw, flowstate: true,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.hooked) }},
	{key: rowCLI, title: "flowstate, CLI start", baseline: rowRaw, flowstate: true,
		start: func(b *bench) starter { return startWorkflow(b.c, b.fsQueue, flowNoHooks) }},
	{key: rowRawConcurrent, title: "raw, concurrent", baseline: rowRawConcurrent, concurrent: true,
		start: func(b *bench) starter { return startWorkflow(b.c, b.rawQueue, rawConcurrentWorkflow) }},
	{key: rowConcurrent, title: "flowstate, concurrent", baseline: rowRawConcurrent, flowstate: true, concurrent: true,
		start: func(b *bench) starter { return startFlow(b.c, b.fsQueue, b.defs.concurrent) }},
}

// DefaultRows are the rows measured when -rows is not given: the four rows of the issue, and
// raw concurrent, the baseline of flowstate concurrent.
var DefaultRows = []string{rowRaw, rowFlowstate, rowHooks, rowRawConcurrent, rowConcurrent}

// selectRows returns the specs of the rows named in keys, in table order. A flowstate row whose
// raw baseline is not selected is compared with raw, which is always measured.
func selectRows(keys []string) ([]rowSpec, error) {
	want := map[string]bool{rowRaw: true}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if _, ok := specByKey(k); !ok {
			return nil, fmt.Errorf("unknown row %q (rows: %s)", k, strings.Join(allRowKeys(), ", "))
		}
		want[k] = true
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
