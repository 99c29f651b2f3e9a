package replay_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/dev/internal/replay"
	"github.com/flowstate/flowstate/worker"
)

// replayer replays histories through flowstate's interceptors with a set of definitions.
type replayer struct {
	r sdkworker.WorkflowReplayer
}

func newReplayer(t *testing.T, opts worker.Options) replayer {
	t.Helper()
	setup, err := worker.NewSetup(opts, opts.SearchAttributes != worker.SearchAttributesOff)
	require.NoError(t, err)
	r, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{Interceptors: setup.Interceptors})
	require.NoError(t, err)
	rr := replayer{r: r}
	setup.Register(rr, nil)
	replay.RegisterPlain(rr)
	return rr
}

func (r replayer) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	r.r.RegisterWorkflowWithOptions(w, o)
}

func (replayer) RegisterActivityWithOptions(any, activity.RegisterOptions) {}

// replay replays the history in path, a run whose workflow ID is the file's name.
func (r replayer) replay(t *testing.T, path string) {
	t.Helper()
	h, err := client.HistoryFromJSON(mustOpen(t, path), client.HistoryJSONOptions{})
	require.NoError(t, err)
	id := strings.TrimSuffix(filepath.Base(path), ".json")
	runID := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	require.NoError(t, r.r.ReplayWorkflowHistoryWithOptions(nil, h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: runID},
	}), "replaying %s", path)
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// Runs recorded by flowstate v0.1, in flight or closed, replay on this version with the same
// definitions and worker.Options.LegacyRuns, the upgrade path.
func TestLegacyRunsReplay(t *testing.T) {
	for _, s := range replay.LegacyScenarios() {
		t.Run(s.Name, func(t *testing.T) {
			opts := replay.Build(s.Defs)
			opts.LegacyRuns = true
			r := newReplayer(t, opts)
			for _, run := range s.Runs {
				r.replay(t, filepath.Join("testdata", "v0.1", s.Name+"-"+run.Name+".json"))
			}
		})
	}
}
