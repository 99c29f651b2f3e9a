package hookargs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/hookargs"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestHookSeesBoundArgsAndFailedState(t *testing.T) {
	effects.Reset()
	env := testsuite.NewEnv(t, worker.Options{
		Flows: []adapter.AnyFlow{hookargs.Flow},
		Tasks: []adapter.AnyTask{hookargs.BadTask},
		Hooks: hookargs.Hooks,
	})
	env.ExecuteFlow(hookargs.Flow, hookargs.Params{X: "foo", Y: 42})
	require.NoError(t, env.GetWorkflowError())
	res, err := testsuite.Result[hookargs.Result](env)
	require.NoError(t, err)
	require.Equal(t, "bar", res.Bar)
	require.Equal(t, hooks.Failed, res.State.Type)

	calls := env.CallsOf("my-hook")
	require.Len(t, calls, 1)
	require.JSONEq(t, `{"x":"foo","y":42}`, string(calls[0].Args))
	require.Equal(t, res.State, calls[0].State)
	require.Equal(t, []string{`my-hook saw x="foo" y=42 state=Failed("meh")`}, effects.Of(hookargs.Name))
	require.Equal(t, hooks.Completed, env.History().State.Type)
}
