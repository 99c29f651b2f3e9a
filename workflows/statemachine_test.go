package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/workflows"
)

func TestCheckTransition(t *testing.T) {
	s := func(typ hooks.StateType, name string) hooks.State { return hooks.State{Type: typ, Name: name} }
	allowed := [][2]hooks.State{
		{{}, s(hooks.Scheduled, "Scheduled")},
		{s(hooks.Scheduled, "Scheduled"), s(hooks.Running, "Running")},
		{s(hooks.Running, "Running"), s(hooks.Scheduled, "AwaitingRetry")},
		{s(hooks.Scheduled, "AwaitingRetry"), s(hooks.Running, "Retrying")},
		{s(hooks.Running, "Retrying"), s(hooks.Failed, "TimedOut")},
		{s(hooks.Pending, "Pending"), s(hooks.Completed, "Completed")},
		{s(hooks.Running, "Running"), s(hooks.Cancelling, "Cancelling")},
		{s(hooks.Cancelling, "Cancelling"), s(hooks.Cancelled, "Cancelled")},
		{s(hooks.Scheduled, "Scheduled"), s(hooks.Failed, "Failed")},
	}
	for _, tr := range allowed {
		require.NoError(t, workflows.CheckTransition(tr[0], tr[1]), "%s -> %s", tr[0].Name, tr[1].Name)
	}
	refused := [][2]hooks.State{
		{s(hooks.Completed, "Completed"), s(hooks.Running, "Running")},
		{s(hooks.Failed, "Failed"), s(hooks.Scheduled, "AwaitingRetry")},
		{s(hooks.Running, "Running"), s(hooks.Scheduled, "Scheduled")},
		{s(hooks.Cancelling, "Cancelling"), s(hooks.Running, "Running")},
		{s(hooks.Running, "Running"), s("BOGUS", "Bogus")},
	}
	for _, tr := range refused {
		require.Error(t, workflows.CheckTransition(tr[0], tr[1]), "%s -> %s", tr[0].Name, tr[1].Name)
	}
}
