package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestQuick(t *testing.T) {
	noop := func(ctx context.Context, c hooks.FlowCall) error { return nil }
	onFail := hooks.NewFlowHook("on-fail", noop)
	onRun := hooks.NewFlowHook("on-run", noop)
	task := adapter.NewTask("t", func(ctx context.Context, x int) (int, error) { return x * 2, nil })
	f := adapter.NewFlow("failing", func(ctx workflow.Context, _ struct{}) (int, error) {
		v, err := task.Run(ctx, 21)
		if err != nil {
			return 0, err
		}
		return v, errors.New("oops!")
	}, adapter.FlowOptions{Retries: 1, OnFailure: []hooks.FlowHook{onFail}, OnRunning: []hooks.FlowHook{onRun}})
	env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{task}})
	env.ExecuteFlow(f, nil)
	require.True(t, env.IsWorkflowCompleted())
	_, err := testsuite.Result[int](env)
	require.Error(t, err)
	h := env.History()
	t.Log("\n" + h.Timeline())
	require.Len(t, env.CallsOf("on-fail"), 1)
	require.Len(t, env.CallsOf("on-run"), 2)
}
