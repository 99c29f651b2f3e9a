// Command record records the replay corpus: it starts an embedded Temporal server (and one whose
// namespace lacks the FlowState search attribute, for the scenarios that ask for it), runs the
// corpus scenarios' runs on a worker with their definitions, and writes each run's history as
// JSON (the format of `temporal workflow show --output json`). A run whose history has a failed
// workflow task fails the recording.
//
//	go run ./dev/internal/replay/record -set legacy -out dev/internal/replay/testdata/v0.1
//	go run ./dev/internal/replay/record -set v1 -out dev/internal/replay/testdata/v0.2
//	go run ./dev/internal/replay/record -set v1 -out dev/internal/replay/testdata/add71b7   # at commit add71b7
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/dev/internal/replay"
	"github.com/flowstate/flowstate/worker"
)

func main() {
	set := flag.String("set", "v1", "which scenarios: legacy (v0.1 corpus) or v1 (the v1 definitions of the changes corpus)")
	out := flag.String("out", "", "directory to write the histories to")
	verbose := flag.Bool("v", false, "show the SDK's and the worker's warnings and errors")
	flag.Parse()
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
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

// logger is the SDK's and flowstate's logger: silent unless -v, so that the progress lines stand
// out (the runs fail tasks and hooks on purpose). A workflow task that fails fails the recording.
var logger = slog.New(slog.DiscardHandler)

func record(ctx context.Context, scenarios []replay.Scenario, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	clients := map[bool]client.Client{} // by NoSearchAttribute
	for _, s := range scenarios {
		c, ok := clients[s.NoSearchAttribute]
		if !ok {
			srv, err := startServer(ctx, s.NoSearchAttribute)
			if err != nil {
				return err
			}
			defer func() { _ = srv.Stop() }()
			if c, err = srv.NewClient(ctx, client.Options{Logger: sdklog.NewStructuredLogger(logger)}); err != nil {
				return err
			}
			defer c.Close()
			clients[s.NoSearchAttribute] = c
		}
		fmt.Printf("scenario %s\n", s.Name)
		if err := recordScenario(ctx, c, s, out); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	return nil
}

// startServer starts an embedded server whose namespace has the FlowState search attribute,
// unless noSearchAttribute is set.
func startServer(ctx context.Context, noSearchAttribute bool) (*devserver.Server, error) {
	var o devserver.Options
	if noSearchAttribute {
		o.SearchAttributes = map[string]enumspb.IndexedValueType{}
	}
	return devserver.Start(ctx, o)
}

func recordScenario(ctx context.Context, c client.Client, s replay.Scenario, out string) error {
	queue := "corpus-" + s.Name
	opts := replay.Build(s.Defs)
	opts.Logger = logger
	w, err := worker.New(c, queue, opts)
	if err != nil {
		return err
	}
	replay.RegisterPlain(w.Registry())
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	// The runs are recorded concurrently: each waits for its own end or rest.
	errs := make([]error, len(s.Runs))
	var wg sync.WaitGroup
	for i, r := range s.Runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := recordRun(ctx, c, queue, s.Name+"-"+r.Name, r, out); err != nil {
				errs[i] = fmt.Errorf("run %s: %w", r.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func recordRun(ctx context.Context, c client.Client, queue, id string, r replay.Run, out string) error {
	run, err := start(ctx, c, queue, id, r)
	if err != nil {
		return err
	}
	if r.Open {
		if err := quiescent(ctx, c, id, run.GetRunID()); err != nil {
			return err
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
	h, err := history(ctx, c, id, run.GetRunID())
	if err != nil {
		return err
	}
	if r.Open && !r.Cancel {
		_ = c.TerminateWorkflow(ctx, id, run.GetRunID(), "recorded")
	}
	for _, e := range h.GetEvents() {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			return fmt.Errorf("event %d: a workflow task failed while recording: %s", e.GetEventId(),
				e.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage())
		}
	}
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, id+".json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	status := "open"
	if !r.Open || r.Cancel {
		status = closedStatus(h)
	}
	fmt.Printf("  %s: %d events, %s\n", id, len(h.GetEvents()), status)
	return nil
}

// closedStatus is a closed run's status, as its last event says.
func closedStatus(h *historypb.History) string {
	events := h.GetEvents()
	if len(events) == 0 {
		return "empty"
	}
	return strings.TrimPrefix(events[len(events)-1].GetEventType().String(), "EVENT_TYPE_")
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

func history(ctx context.Context, c client.Client, id, runID string) (*historypb.History, error) {
	h := &historypb.History{}
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		h.Events = append(h.Events, e)
	}
	return h, nil
}
