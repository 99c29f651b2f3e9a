package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// runCmd starts a flow, waits for it, and prints its state history.
func runCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("run", "run FLOW [--input JSON] [--id WORKFLOW_ID] [--task-queue QUEUE] [--timeout DURATION]")
	input := fs.String("input", "", "the flow's input, as JSON (default: none)")
	id := fs.String("id", "", "workflow ID (default: FLOW-<time>)")
	queue := fs.String("task-queue", examples.TaskQueue, "task queue of the worker that runs the flow")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the run (the run goes on after)")
	flow, rest := positional(args)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if flow == "" {
		flow = fs.Arg(0)
	}
	if flow == "" {
		return usagef("name the flow to run, e.g. flowstate run crashing-flow")
	}
	var in any
	if *input != "" {
		if !json.Valid([]byte(*input)) {
			var v any
			err := json.Unmarshal([]byte(*input), &v)
			return usagef("--input is not valid JSON: %v", err)
		}
		in = json.RawMessage(*input)
	}
	if *queue == examples.TaskQueue {
		if known := exampleFlows(); !slices.Contains(known, flow) {
			return fmt.Errorf("unknown flow %q: the examples' worker runs %s (use --task-queue for another worker's flows)", flow, strings.Join(known, ", "))
		}
	}
	if *id == "" {
		*id = fmt.Sprintf("%s-%s", flow, time.Now().Format("20060102-150405"))
	}
	p := progress{w: out}
	c, err := dial(ctx, p)
	if err != nil {
		return err
	}
	defer c.Close()

	run, err := adapter.StartFlow(ctx, c, client.StartWorkflowOptions{ID: *id, TaskQueue: *queue}, flow, in)
	if err != nil {
		return err
	}
	p.done("started flow %s: workflow ID %s, run ID %s", flow, run.GetID(), run.GetRunID())
	p.step("waiting for it to finish (Ctrl-C stops waiting, not the run)")
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	result, runErr := wait(wctx, c, run, p)
	if wctx.Err() != nil {
		return fmt.Errorf("the run had not finished after %s; see it later with: flowstate states %s", *timeout, run.GetID())
	}
	h, err := adapter.ReadHistory(ctx, c, run.GetID(), run.GetRunID())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nflow run %s ended %s\n", run.GetID(), h.State)
	fmt.Fprint(out, h.Timeline())
	if runErr != nil {
		return fmt.Errorf("the run failed: %w", runErr)
	}
	fmt.Fprintf(out, "result: %s\n", result)
	return nil
}

// wait waits for the run, printing its state when it changes, and says when its workflow task
// keeps failing (the flow is not registered on any worker of the task queue, usually).
func wait(ctx context.Context, c client.Client, run client.WorkflowRun, p progress) (json.RawMessage, error) {
	type outcome struct {
		result json.RawMessage
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		var raw json.RawMessage
		err := run.Get(ctx, &raw)
		done <- outcome{raw, err}
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := ""
	warned := false
	for {
		select {
		case o := <-done:
			return o.result, o.err
		case <-tick.C:
			desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
			if err != nil {
				continue
			}
			if wt := desc.GetPendingWorkflowTask(); wt != nil && wt.GetAttempt() > 2 && !warned {
				warned = true
				p.fail("the run's workflow task has failed %d times: is flow %q registered on a worker of task queue %s?",
					wt.GetAttempt()-1, desc.GetWorkflowExecutionInfo().GetType().GetName(), desc.GetWorkflowExecutionInfo().GetTaskQueue())
			}
			if wt := desc.GetPendingWorkflowTask(); wt != nil && wt.GetStartedTime() == nil && !warned &&
				time.Since(wt.GetScheduledTime().AsTime()) > 10*time.Second {
				warned = true
				p.fail("no worker has picked the run up for %s: is a worker running for task queue %s? (flowstate worker, or flowstate dev)",
					time.Since(wt.GetScheduledTime().AsTime()).Round(time.Second), desc.GetWorkflowExecutionInfo().GetTaskQueue())
			}
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			h, err := adapter.ReadHistory(qctx, c, run.GetID(), run.GetRunID())
			cancel()
			if err == nil && h.State.String() != last {
				last = h.State.String()
				p.info("  now %s", last)
			}
		}
	}
}

// dial connects to Temporal with the standard settings, saying where it connects.
func dial(ctx context.Context, p progress) (client.Client, error) {
	opts, err := worker.ClientOptions()
	if err != nil {
		return nil, err
	}
	p.step("connecting to Temporal at %s, namespace %s", orDefault(opts.HostPort, "localhost:7233"), orDefault(opts.Namespace, "default"))
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := worker.Dial(dctx)
	if err != nil {
		return nil, fmt.Errorf("%w\n  is a Temporal server running there? (flowstate dev starts one; TEMPORAL_ADDRESS points elsewhere)", err)
	}
	return c, nil
}

// positional splits off a leading positional argument, so that flags may follow it.
func positional(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func exampleFlows() []string {
	var names []string
	for _, f := range examples.Options(secrets.Map{}).Flows {
		names = append(names, f.Name())
	}
	return names
}
