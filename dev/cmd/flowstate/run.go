package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// runCmd starts a flow, prints its progress while it runs (its state history as it grows, and
// hook calls being retried), and says how it ended.
func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run FLOW [--input JSON] [--id WORKFLOW_ID] [--task-queue QUEUE] [--timeout DURATION]")
	input := fs.String("input", "", "the flow's input, as JSON (default: none)")
	id := fs.String("id", "", "workflow ID (default: FLOW-<time>)")
	queue := fs.String("task-queue", examples.TaskQueue, "task queue of the worker that runs the flow")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to follow the run (the run goes on after)")
	level := logLevelFlag(fs, slog.LevelInfo)
	codec := addCodecFlags(fs)
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
	lvl, err := level.Level()
	if err != nil {
		return err
	}
	p := progress{w: stdout}
	c, read, err := dialCodec(ctx, p, newLogger(stderr, lvl), codec)
	if err != nil {
		return err
	}
	defer c.Close()

	run, err := adapter.StartFlow(ctx, c, client.StartWorkflowOptions{ID: *id, TaskQueue: *queue}, flow, in)
	if err != nil {
		return err
	}
	p.done("started flow %s: workflow ID %s, run ID %s", flow, run.GetID(), run.GetRunID())
	p.step("following it (Ctrl-C stops following, not the run)")
	fctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	o, err := newFollower(c, flow, run, stdout, read).follow(fctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("flow run %s had not finished after %s; it goes on: see it with flowstate states %s", run.GetID(), *timeout, run.GetID())
	case err != nil:
		return fmt.Errorf("stopped following flow run %s; it goes on: see it with flowstate states %s", run.GetID(), run.GetID())
	}
	if err := endError(run.GetID(), o); err != nil {
		return err
	}
	p.done("flow run %s ended Completed", run.GetID())
	fmt.Fprintf(stdout, "result: %s\n", o.result)
	return nil
}

// dial connects to Temporal with the standard settings, saying where it connects; the SDK logs
// through logger.
func dial(ctx context.Context, p progress, logger *slog.Logger) (client.Client, error) {
	c, _, err := dialCodec(ctx, p, logger, nil)
	return c, err
}

// dialCodec is dial for the commands that start or read runs: it encodes and decodes payloads
// through the codec server cf names, if any, and returns the options that make ReadHistory do so.
func dialCodec(ctx context.Context, p progress, logger *slog.Logger, cf *codecFlags) (client.Client, []adapter.ReadOption, error) {
	opts, err := worker.ClientOptions()
	if err != nil {
		return nil, nil, err
	}
	read, err := cf.apply(&opts)
	if err != nil {
		return nil, nil, err
	}
	opts.Logger = sdkLogger(logger)
	addr, ns := orDefault(opts.HostPort, client.DefaultHostPort), orDefault(opts.Namespace, client.DefaultNamespace)
	p.step("connecting to Temporal at %s, namespace %s", addr, ns)
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to Temporal at %s (namespace %s): %w\n"+
			"  is a Temporal server running there? (flowstate dev starts one; TEMPORAL_ADDRESS points elsewhere)", addr, ns, err)
	}
	return c, read, nil
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
