package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

// journal records what hooks saw, in the order they ran.
type journal struct {
	mu    sync.Mutex
	lines []string
	flow  []hooks.FlowCall
	task  []hooks.TaskCall
}

func (j *journal) add(line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, line)
}

func (j *journal) Lines() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// flowHook returns a flow hook named name that journals "name event state" and returns err.
func (j *journal) flowHook(name string, err error) hooks.FlowHook {
	return hooks.NewFlowHook(name, func(ctx context.Context, c hooks.FlowCall) error {
		j.mu.Lock()
		j.flow = append(j.flow, c)
		j.lines = append(j.lines, fmt.Sprintf("%s %s %s", name, c.Hook.Event, c.State.Name))
		j.mu.Unlock()
		return err
	}, hooks.Options{RetryPolicy: fastRetry(2)})
}

// taskHook returns a task hook named name that journals "name event state/attempt".
func (j *journal) taskHook(name string, err error) hooks.TaskHook {
	return hooks.NewTaskHook(name, func(ctx context.Context, c hooks.TaskCall) error {
		j.mu.Lock()
		j.task = append(j.task, c)
		j.lines = append(j.lines, fmt.Sprintf("%s %s %s/%d", name, c.Hook.Event, c.State.Name, c.State.Attempt))
		j.mu.Unlock()
		return err
	}, hooks.Options{RetryPolicy: fastRetry(2)})
}

func fastRetry(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: attempts}
}

func newEnv(t *testing.T, opts worker.Options) *testsuite.Env {
	t.Helper()
	return testsuite.NewEnv(t, opts)
}

func flows(f ...adapter.AnyFlow) []adapter.AnyFlow { return f }
func tasks(t ...adapter.AnyTask) []adapter.AnyTask { return t }

// flowNames returns the names of the flow run's states.
func flowNames(h hooks.History) []string {
	var out []string
	for _, s := range h.FlowStates() {
		out = append(out, s.Name)
	}
	return out
}

func requireCompleted(t *testing.T, env *testsuite.Env) {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted(), "the flow did not complete")
}
