// Package slacknotify is Prefect's "send a notification when a flow run fails": a flow with one
// retry whose body fails; after the last retry its on_failure hook posts to Slack with the run's
// name, state and message, a link to the run in the Temporal Web UI, its tags and its expected
// start time.
//
// The webhook URL is a named secret, WebhookSecret (Prefect's
// Block.load("slack-webhook/my-slack-webhook")), resolved on the worker when the hook runs:
// FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK, or the file FLOWSTATE_SECRETS_FILE names.
// It never enters workflow history. Without it, `flowstate dev` points the secret at a local
// receiver (Receiver) and shows the message that would have been posted.
package slacknotify

import (
	"errors"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/slack"
)

// Name names the example in the demo.
const Name = "slack-notify"

// WebhookSecret names the secret holding the Slack incoming-webhook URL.
const WebhookSecret = "slack-webhook/my-slack-webhook"

// NotifySlack is the on_failure hook: Prefect's notify_slack.
var NotifySlack = slack.FlowHook("notify-slack", slack.Config{WebhookSecret: WebhookSecret})

// FailingFlow is Prefect's failing_flow: @flow(retries=1) raising ValueError("oops!").
var FailingFlow = adapter.NewFlow("failing-flow", func(ctx workflow.Context, _ struct{}) (struct{}, error) {
	return struct{}{}, errors.New("oops!")
}, adapter.FlowOptions{
	Retries:   1,
	Tags:      []string{"seed", "slack"},
	OnFailure: []hooks.FlowHook{NotifySlack},
})
