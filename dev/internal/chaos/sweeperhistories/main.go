// Command sweeperhistories records histories of flowstate's crash sweeper workflow on an embedded
// Temporal server, for the replay tests of package workflows (workflows/testdata/sweeper):
//
//	go run ./dev/internal/chaos/sweeperhistories -out workflows/testdata/sweeper
//
// It records an open sweeper whose scan runs, and a sweeper cancelled while its scan ran.
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
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
	"github.com/flowstate/flowstate/workflows"
)

func main() {
	out := flag.String("out", "", "directory to write the histories to")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "sweeperhistories: -out is required")
		os.Exit(2)
	}
	if err := record(context.Background(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "sweeperhistories:", err)
		os.Exit(1)
	}
}

var crashed = hooks.NewFlowHook("record-crashed", func(context.Context, hooks.FlowCall) error { return nil })

var flow = adapter.NewFlow("record-flow", func(ctx workflow.Context, _ struct{}) (string, error) {
	return "", workflow.Sleep(ctx, time.Hour)
}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{crashed}})

func record(ctx context.Context, out string) error {
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

	for _, name := range []string{"legacy-open", "legacy-cancelled"} {
		queue := "record-" + name
		w, err := worker.New(c, queue, worker.Options{Flows: []adapter.AnyFlow{flow}})
		if err != nil {
			return err
		}
		if err := w.Start(); err != nil {
			return err
		}
		id := workflows.SweeperWorkflowID(queue)
		runID, err := scanning(ctx, c, id)
		if err != nil {
			w.Stop()
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == "legacy-cancelled" {
			if err := c.CancelWorkflow(ctx, id, runID); err != nil {
				w.Stop()
				return err
			}
			_ = c.GetWorkflow(ctx, id, runID).Get(ctx, nil)
		}
		err = write(ctx, c, id, runID, filepath.Join(out, name+".json"))
		w.Stop()
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", name, id)
	}
	return nil
}

// scanning waits until the sweeper's scan activity runs and returns the sweeper's run ID.
func scanning(ctx context.Context, c client.Client, id string) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil {
			for _, a := range desc.GetPendingActivities() {
				if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
					return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("the sweeper's scan did not start within a minute")
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
