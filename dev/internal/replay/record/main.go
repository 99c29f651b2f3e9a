// Command record records the replay corpus: it starts an embedded Temporal server, runs the
// corpus scenarios' runs on a worker with their definitions, and writes each run's history as
// JSON (the format of `temporal workflow show --output json`).
//
//	go run ./dev/internal/replay/record -set legacy -out dev/internal/replay/testdata/v0.1
//	go run ./dev/internal/replay/record -set v1 -out dev/internal/replay/testdata/v0.2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/dev/internal/replay"
	"github.com/flowstate/flowstate/worker"
)

func main() {
	set := flag.String("set", "v1", "which scenarios: legacy (v0.1 corpus) or v1 (the v1 definitions of the changes corpus)")
	out := flag.String("out", "", "directory to write the histories to")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "record: -out is required")
		os.Exit(2)
	}
	var scenarios []replay.Scenario
	switch *set {
	case "legacy":
		scenarios = replay.LegacyScenarios()
	case "v1":
		scenarios = replay.Scenarios()
	default:
		fmt.Fprintf(os.Stderr, "record: unknown set %q\n", *set)
		os.Exit(2)
	}
	if err := record(context.Background(), scenarios, *out); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func record(ctx context.Context, scenarios []replay.Scenario, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	c, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, s := range scenarios {
		fmt.Printf("scenario %s\n", s.Name)
		if err := recordScenario(ctx, c, s, out); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	return nil
}

func recordScenario(ctx context.Context, c client.Client, s replay.Scenario, out string) error {
	queue := "corpus-" + s.Name
	w, err := worker.New(c, queue, replay.Build(s.Defs))
	if err != nil {
		return err
	}
	replay.RegisterPlain(w.Registry())
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	for _, r := range s.Runs {
		id := s.Name + "-" + r.Name
		run, err := start(ctx, c, queue, id, r)
		if err != nil {
			return fmt.Errorf("run %s: %w", r.Name, err)
		}
		if r.Open {
			if err := quiescent(ctx, c, id, run.GetRunID()); err != nil {
				return fmt.Errorf("run %s: %w", r.Name, err)
			}
			if r.Cancel {
				if err := c.CancelWorkflow(ctx, id, run.GetRunID()); err != nil {
					return err
				}
				_ = run.Get(ctx, nil)
			}
		} else {
			_ = run.Get(ctx, nil)
		}
		if err := write(ctx, c, id, run.GetRunID(), filepath.Join(out, id+".json")); err != nil {
			return err
		}
		if r.Open && !r.Cancel {
			_ = c.TerminateWorkflow(ctx, id, run.GetRunID(), "recorded")
		}
		fmt.Printf("  %s\n", id)
	}
	return nil
}

func start(ctx context.Context, c client.Client, queue, id string, r replay.Run) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: queue}
	if r.ByName || r.Workflow == replay.PlainWorkflow {
		return c.ExecuteWorkflow(ctx, opts, r.Workflow, r.Input)
	}
	return adapter.StartFlow(ctx, c, opts, r.Workflow, r.Input)
}

// quiescent waits until a run waits for its signal: nothing pending, and its history unchanged
// for a second.
func quiescent(ctx context.Context, c client.Client, id, runID string) error {
	deadline := time.Now().Add(time.Minute)
	last, stable := -1, 0
	for time.Now().Before(deadline) {
		desc, err := c.DescribeWorkflowExecution(ctx, id, runID)
		if err != nil {
			return err
		}
		n := int(desc.GetWorkflowExecutionInfo().GetHistoryLength())
		idle := len(desc.GetPendingActivities()) == 0 && desc.GetPendingWorkflowTask() == nil
		if idle && n == last {
			stable++
			if stable >= 5 {
				return nil
			}
		} else {
			stable = 0
		}
		last = n
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the run did not come to rest within a minute")
}

func write(ctx context.Context, c client.Client, id, runID, path string) error {
	h := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err
		}
		h.Events = append(h.Events, e)
	}
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
