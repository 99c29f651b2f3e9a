package replay_test

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
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
	return newReplayerKnowing(t, opts, opts.SearchAttributes != worker.SearchAttributesOff)
}

// newReplayerKnowing returns a replayer whose worker knows (sa) or not that the FlowState search
// attribute is registered, as the start-up check of its SearchAttributes setting found.
func newReplayerKnowing(t *testing.T, opts worker.Options, sa bool) replayer {
	t.Helper()
	setup, err := worker.NewSetup(opts, sa)
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
	require.NoError(t, r.try(t, path, load(t, path), quiet), "replaying %s", path)
}

// try replays h, the history in path, and returns the replay's error (which says what did not
// match); logger receives the replay's log.
func (r replayer) try(t *testing.T, path string, h *historypb.History, logger log.Logger) error {
	t.Helper()
	id := strings.TrimSuffix(filepath.Base(path), ".json")
	runID := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	return r.r.ReplayWorkflowHistoryWithOptions(logger, h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: runID},
	})
}

func load(t *testing.T, path string) *historypb.History {
	t.Helper()
	h, err := client.HistoryFromJSON(mustOpen(t, path), client.HistoryJSONOptions{})
	require.NoError(t, err)
	return h
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

// Runs recorded from each scenario's v1 definitions, in flight or closed, replay clean on the
// v1 definitions and on every change of the scenario: each run keeps the plan it recorded. And
// nothing a worker learns at start-up changes a run's commands: each replays on a worker that
// found the FlowState search attribute registered and on one that did not.
func TestChangesReplay(t *testing.T) {
	for _, s := range replay.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			defs := map[string]replay.Defs{"v1": s.Defs}
			for name, d := range s.Changes {
				defs["v2-"+name] = d
			}
			for _, name := range slices.Sorted(maps.Keys(defs)) {
				t.Run(name, func(t *testing.T) {
					for _, sa := range []bool{true, false} {
						r := newReplayerKnowing(t, replay.Build(defs[name]), sa)
						for _, run := range s.Runs {
							r.replay(t, changesPath(s, run))
						}
					}
				})
			}
		})
	}
}

// Runs recorded at commit add71b7 — before the Web UI details were rendered at each transition
// and before each run cached its metrics and encoded its memo once — replay clean on this code,
// with the definitions they were recorded with, on a worker that found the FlowState search
// attribute registered and on one that did not. `go run ./dev/internal/replay/record -set v1`
// recorded them at that commit.
func TestRunsRecordedBeforeTheDetailsChangeReplay(t *testing.T) {
	for _, s := range replay.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			for _, sa := range []bool{true, false} {
				r := newReplayerKnowing(t, replay.Build(s.Defs), sa)
				for _, run := range s.Runs {
					r.replay(t, filepath.Join("testdata", "add71b7", s.Name+"-"+run.Name+".json"))
				}
			}
		})
	}
}

// The changes corpus exercises the changes: replayed without flowstate's plans — following the
// definitions of each change, as worker.Options.LegacyRuns has the runs that recorded no plan do
// (here, the runs whose plan was zero) — runs fail on the changes, while the same replays on
// the v1 definitions pass.
func TestChangesReplayNeedsThePlans(t *testing.T) {
	failed, replayed := 0, 0
	var lines []string
	for _, s := range replay.Scenarios() {
		var which []string
		for _, name := range append([]string{"v1"}, slices.Sorted(maps.Keys(s.Changes))...) {
			d, ok := s.Changes[name]
			if name == "v1" {
				d, ok = s.Defs, true
			}
			require.True(t, ok)
			opts := replay.Build(d)
			opts.LegacyRuns = true
			r := newReplayer(t, opts)
			for _, run := range s.Runs {
				path := changesPath(s, run)
				err := r.try(t, path, load(t, path), quiet)
				if name == "v1" {
					require.NoError(t, err, "replaying %s with LegacyRuns on the definitions it ran on", path)
					continue
				}
				replayed++
				if err != nil {
					failed++
					which = append(which, run.Name+" on "+name)
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%-15s %2d: %s", s.Name, len(which), strings.Join(which, ", ")))
	}
	t.Logf("%d of %d replays on the changes fail without the plans:\n%s", failed, replayed, strings.Join(lines, "\n"))
	require.NotZero(t, failed, "every change replays without flowstate's plans: the corpus does not exercise them")
}

// quiet drops the replays' log, whose debug lines would bury the test's.
var quiet = log.NewStructuredLogger(slog.New(slog.DiscardHandler))

func changesPath(s replay.Scenario, run replay.Run) string {
	return filepath.Join("testdata", "v0.2", s.Name+"-"+run.Name+".json")
}
