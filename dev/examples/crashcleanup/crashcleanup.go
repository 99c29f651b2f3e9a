// Package crashcleanup is Prefect's "delete a Cloud Run job when a flow run crashes": the flow
// records the name of an external resource it created on its run, then runs a task that crashes;
// the on_crashed hook reads the name from the flow run and deletes the resource. A file stands in
// for the Cloud Run job.
package crashcleanup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
)

// Name names the example in the demo.
const Name = "crash-cleanup"

// DataKey is the run data key under which the flow records its job's name.
const DataKey = "cloud-run-job"

// Dir is where the example's "jobs" live: $FLOWSTATE_EXAMPLES_DIR, else a directory in the
// system's temporary directory.
func Dir() string {
	if d := os.Getenv("FLOWSTATE_EXAMPLES_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "flowstate-examples")
}

// JobPath returns the file standing for the job of a flow run.
func JobPath(runName string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, runName)
	return filepath.Join(Dir(), safe+".job")
}

// CreateJob creates the job: the resource the flow must not leak.
var CreateJob = adapter.NewTask("create-cloud-run-job", func(ctx context.Context, runName string) (string, error) {
	path := JobPath(runName)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte("job of flow run "+runName+"\n"), 0o644); err != nil {
		return "", err
	}
	effects.Printf(Name, "created job %s", path)
	return path, nil
})

// TaskThatCrashes is Prefect's my_task_that_crashes: it panics (Go's SystemExit).
var TaskThatCrashes = adapter.NewTask("my-task-that-crashes", func(ctx context.Context, _ struct{}) (struct{}, error) {
	panic("Crashing on purpose!")
})

// DeleteCloudRunJob is the on_crashed hook: it reads the job from the flow run and deletes it.
// Deleting a job that is already gone succeeds, so a retried call has its effect once.
var DeleteCloudRunJob = hooks.NewFlowHook("delete-cloud-run-job", func(ctx context.Context, c hooks.FlowCall) error {
	var job string
	ok, err := c.Run.Lookup(DataKey, &job)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("flow run %s recorded no %s", c.Run.ID, DataKey)
	}
	path := JobPath(job)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	effects.Printf(Name, "on_crashed: deleted job %s (flow run %s entered %s)", path, c.Run.Name, c.State)
	return nil
})

// Flow is Prefect's crashing_flow.
var Flow = adapter.NewFlow("crashing-flow", func(ctx workflow.Context, _ struct{}) (struct{}, error) {
	name := adapter.FlowRunInfo(ctx).Name
	// Record the job's name on the run first, so that the hook can clean it up whatever happens
	// next. (Where jobs live is the workers' business: flow code stays deterministic.)
	if err := adapter.SetRunData(ctx, DataKey, name); err != nil {
		return struct{}{}, err
	}
	if _, err := CreateJob.Run(ctx, name); err != nil {
		return struct{}{}, err
	}
	_, err := TaskThatCrashes.Run(ctx, struct{}{})
	return struct{}{}, err
}, adapter.FlowOptions{OnCrashed: []hooks.FlowHook{DeleteCloudRunJob}})
