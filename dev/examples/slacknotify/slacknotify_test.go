package slacknotify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/slacknotify"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func TestOnFailurePostsToSlackOnceAfterTheRetry(t *testing.T) {
	rcv, err := slacknotify.StartReceiver()
	require.NoError(t, err)
	t.Cleanup(func() { _ = rcv.Close() })

	env := testsuite.NewEnv(t, worker.Options{
		Flows:   []adapter.AnyFlow{slacknotify.FailingFlow},
		Secrets: secrets.Map{slacknotify.WebhookSecret: rcv.URL()},
	})
	env.ExecuteFlow(slacknotify.FailingFlow, nil)
	require.ErrorContains(t, env.GetWorkflowError(), "oops!")

	require.Len(t, env.CallsOf("notify-slack"), 1, "on_failure runs once, after the last retry")
	msgs := rcv.Messages()
	require.Len(t, msgs, 1)
	h := env.History()
	require.Contains(t, msgs[0], "Your job "+h.WorkflowID+" entered Failed")
	require.Contains(t, msgs[0], "oops!")
	require.Contains(t, msgs[0], "/workflows/"+h.WorkflowID+"/"+h.RunID+"/history")
	require.Contains(t, msgs[0], "seed")
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Failed"}, h.StateNames(h.WorkflowID))
	require.Equal(t, hooks.HookCompleted, h.Hooks()[0].Status)
}

func TestMissingSecretFailsTheHookNamingIt(t *testing.T) {
	env := testsuite.NewEnv(t, worker.Options{
		Flows:   []adapter.AnyFlow{slacknotify.FailingFlow},
		Secrets: secrets.Map{},
	})
	env.ExecuteFlow(slacknotify.FailingFlow, nil)
	results := env.History().Hooks()
	require.Len(t, results, 1)
	require.Equal(t, hooks.HookFailed, results[0].Status)
	require.Contains(t, results[0].Error, slacknotify.WebhookSecret)
	require.Len(t, env.CallsOf("notify-slack"), 1, "an unknown secret is not retried")
}
