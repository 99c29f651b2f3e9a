package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/hooks"
)

// demoTimeout bounds one example's run in the demo.
const demoTimeout = 45 * time.Second

type demoResult struct {
	demo    examples.Demo
	id      string
	history hooks.History
	err     error
	took    time.Duration
}

// runDemo starts every example at once, waits for them, and prints each one's state history and
// what its hooks did. It fails when an example did not end as expected.
func runDemo(ctx context.Context, c client.Client, p progress) error {
	demos := examples.Demos()
	results := make([]demoResult, len(demos))
	stamp := time.Now().Format("150405")
	var wg sync.WaitGroup
	for i, d := range demos {
		results[i] = demoResult{demo: d, id: fmt.Sprintf("demo-%s-%s", d.Name, stamp)}
		run, err := adapter.StartFlow(ctx, c, client.StartWorkflowOptions{ID: results[i].id, TaskQueue: examples.TaskQueue}, d.Flow.Name(), d.Input)
		if err != nil {
			return err
		}
		if d.CancelAfter > 0 {
			p.step("started %s as %s; cancelling it after %s", d.Flow.Name(), results[i].id, d.CancelAfter)
		} else {
			p.step("started %s as %s", d.Flow.Name(), results[i].id)
		}
		wg.Add(1)
		go func(r *demoResult) {
			defer wg.Done()
			t0 := time.Now()
			wctx, cancel := context.WithTimeout(ctx, demoTimeout)
			defer cancel()
			if after := r.demo.CancelAfter; after > 0 {
				select {
				case <-time.After(after):
				case <-wctx.Done():
				}
				if err := c.CancelWorkflow(wctx, r.id, run.GetRunID()); err != nil {
					r.err = fmt.Errorf("cancelling it: %w", err)
					return
				}
			}
			_ = run.Get(wctx, nil) // the flow's own error is part of the demo
			if wctx.Err() != nil {
				r.err = fmt.Errorf("did not finish within %s", demoTimeout)
				return
			}
			r.took = time.Since(t0)
			r.history, r.err = adapter.ReadHistory(ctx, c, r.id, run.GetRunID())
		}(&results[i])
	}
	p.step("waiting for %d flow runs", len(demos))
	wg.Wait()

	failed := 0
	for _, r := range results {
		if !printDemo(p, r) {
			failed++
		}
	}
	fmt.Fprintln(p.w)
	if failed > 0 {
		return fmt.Errorf("%d of %d examples did not behave as expected", failed, len(results))
	}
	p.done("all %d examples behaved as expected", len(results))
	return nil
}

// printDemo prints one example's outcome and reports whether it was the expected one.
func printDemo(p progress, r demoResult) bool {
	d := r.demo
	fmt.Fprintf(p.w, "\n━━ %s — %s\n", d.Name, d.Title)
	if r.err != nil {
		p.fail("flow run %s: %v", r.id, r.err)
		return false
	}
	h := r.history
	ok := h.State.Name == d.Expect
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	fmt.Fprintf(p.w, "%s flow run %s ended %s in %s (expected %s)\n", mark, r.id, h.State, r.took.Round(time.Millisecond), d.Expect)
	fmt.Fprintln(p.w, "  state history:")
	for _, line := range strings.Split(strings.TrimRight(h.Timeline(), "\n"), "\n") {
		fmt.Fprintln(p.w, "    "+line)
	}
	done := map[string]int{}
	for _, hr := range h.Hooks() {
		if hr.Status == hooks.HookCompleted {
			done[hr.Hook]++
		}
	}
	want := map[string]int{}
	for _, name := range d.Hooks {
		want[name]++
	}
	for name, n := range want {
		if done[name] != n {
			ok = false
			p.fail("hook %s completed %d times, expected %d", name, done[name], n)
		}
	}
	if effects := examples.Effects(d.Name); len(effects) > 0 {
		fmt.Fprintln(p.w, "  what the hooks did:")
		for _, e := range effects {
			fmt.Fprintln(p.w, "    "+strings.ReplaceAll(e, "\n", "\n    "))
		}
	}
	return ok
}
