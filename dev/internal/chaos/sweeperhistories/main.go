// Command sweeperhistories records histories of flowstate's crash sweeper workflow on an embedded
// Temporal server, for the replay tests of package workflows (workflows/testdata/sweeper):
//
//	go run ./dev/internal/chaos/sweeperhistories -out workflows/testdata/sweeper
//
// It records the namespace's sweeper open, after a second worker's registration restarted its
// scan (crash-sweeper-open.json), and after it was cancelled (crash-sweeper-cancelled.json). The
// histories of the per-queue sweeper it replaced (legacy-*.json) were recorded by this program as
// of commit b11fe05, which ran that sweeper.
package main

import (
	"context"
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

func sleeper(name string) adapter.AnyFlow {
	return adapter.NewFlow(name, func(ctx workflow.Context, _ struct{}) (string, error) {
		return "", workflow.Sleep(ctx, time.Hour)
	}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{crashed}})
}

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

	x, y := sleeper("record-x"), sleeper("record-y")
	for _, name := range []string{"crash-sweeper-open", "crash-sweeper-cancelled"} {
		group := "record-" + name
		opts := worker.Options{Flows: []adapter.AnyFlow{x}, Sweeper: worker.SweeperOptions{Group: group}}
		a, err := worker.New(c, group+"-a", opts)
		if err != nil {
			return err
		}
		if err := a.Start(); err != nil {
			return err
		}
		id := workflows.SweeperWorkflowID(group)
		if _, err := scanning(ctx, c, id, 1); err != nil {
			a.Stop()
			return fmt.Errorf("%s: %w", name, err)
		}
		// A second worker, with another flow type on another queue: the scan restarts.
		opts.Flows = []adapter.AnyFlow{x, y}
		b, err := worker.New(c, group+"-b", opts)
		if err != nil {
			a.Stop()
			return err
		}
		if err := b.Start(); err != nil {
			a.Stop()
			return err
		}
		runID, err := scanning(ctx, c, id, 2)
		if err == nil && name == "crash-sweeper-cancelled" {
			if err = c.CancelWorkflow(ctx, id, runID); err == nil {
				_ = c.GetWorkflow(ctx, id, runID).Get(ctx, nil)
			}
		}
		if err == nil {
			err = write(ctx, c, id, runID, filepath.Join(out, name+".json"))
		}
		b.Stop()
		a.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%s: %s\n", name, id)
	}
	return nil
}

// scanning waits until the sweeper's n-th scan activity runs and returns the sweeper's run ID.
func scanning(ctx context.Context, c client.Client, id string, n int) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		desc, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil {
			for _, a := range desc.GetPendingActivities() {
				if a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && scheduled(ctx, c, id) == n {
					return desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("the sweeper's scan %d did not start within a minute", n)
}

// scheduled returns how many scan activities the sweeper scheduled.
func scheduled(ctx context.Context, c client.Client, id string) int {
	n := 0
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return 0
		}
		if e.GetActivityTaskScheduledEventAttributes() != nil {
			n++
		}
	}
	return n
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
