package slack_test

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/hooks/slack"
	"github.com/flowstate/flowstate/worker"
)

// Seed example 1: a flow with one retry whose body fails, and a Slack hook on_failure whose
// webhook URL is the named secret "slack-webhook/my-slack-webhook". The worker resolves it when
// the hook runs, here from FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK or from the file named
// by FLOWSTATE_SECRETS_FILE.
func ExampleFlowHook() {
	notify := slack.FlowHook("notify-slack", slack.Config{
		WebhookSecret: "slack-webhook/my-slack-webhook",
		UIBaseURL:     "https://temporal.example.com",
	})
	flow := adapter.NewFlow("failing-flow", func(ctx workflow.Context, _ struct{}) (string, error) {
		return "", errors.New("oops!")
	}, adapter.FlowOptions{Retries: 1, OnFailure: []hooks.FlowHook{notify}})

	opts := worker.Options{Flows: []adapter.AnyFlow{flow}, Secrets: secrets.Default()}
	// w, err := worker.New(c, "my-queue", opts)
	fmt.Println(flow.Err(), notify.Name(), len(opts.Flows))
	// Output: <nil> notify-slack 1
}

// failedCall is the call an on_failure hook receives for the seed example's flow after its retry.
func failedCall() hooks.FlowCall {
	start := time.Date(2026, 11, 21, 10, 7, 26, 0, time.UTC)
	return hooks.FlowCall{
		Flow: hooks.FlowInfo{Name: "failing-flow", Retries: 1},
		Run: hooks.FlowRun{
			ID: "failing-flow-42", RunID: "0196f5b2-1c1e-7d0a-9f3e-4b6a8c2d1e0f", Name: "nightly <!channel>",
			Namespace: "default", Tags: []string{"etl", "prod"}, ExpectedStartTime: start, Attempt: 2,
		},
		State: hooks.State{Type: hooks.Failed, Name: hooks.NameFailed, Message: "oops!", Attempt: 2, Timestamp: start.Add(3 * time.Second)},
		Hook:  hooks.CallInfo{Name: "notify-slack", Event: hooks.OnFailure},
	}
}

func ExampleFlowMessage() {
	cfg := slack.Config{WebhookSecret: "slack-webhook/my-slack-webhook"}
	msg, err := slack.FlowMessage(cfg, failedCall())
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Text)
	fmt.Println("---")
	fmt.Println(len(msg.Blocks), "block,", len(msg.Attachments), "attachment coloured", msg.Attachments[0].Color)
	// Output:
	// Your job nightly &lt;!channel&gt; entered Failed with message:
	//
	// oops!
	//
	// See <http://localhost:8233/namespaces/default/workflows/failing-flow-42/0196f5b2-1c1e-7d0a-9f3e-4b6a8c2d1e0f/history|the flow run in the UI>
	//
	// Tags: etl, prod
	//
	// Scheduled start: 2026-11-21T10:07:26Z
	// ---
	// 1 block, 1 attachment coloured #E01E5A
}

func ExampleConfig_template() {
	cfg := slack.Config{
		WebhookSecret: "slack-webhook/my-slack-webhook",
		UIBaseURL:     "https://temporal.example.com",
		Template:      `:rotating_light: <!here> {{.FlowName}} run *{{.Name}}* is {{.State}} after {{.Attempt}} attempts: {{.Message}} (<{{.URL}}|open>)`,
	}
	msg, err := slack.FlowMessage(cfg, failedCall())
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Text)
	fmt.Println(msg.Blocks == nil, msg.Attachments == nil)
	// Output:
	// :rotating_light: <!here> failing-flow run *nightly &lt;!channel&gt;* is Failed after 2 attempts: oops! (<https://temporal.example.com/namespaces/default/workflows/failing-flow-42/0196f5b2-1c1e-7d0a-9f3e-4b6a8c2d1e0f/history|open>)
	// true true
}

func ExampleRunURL() {
	fmt.Println(slack.RunURL("", "prod", "orders/2026-11-21#1", "0196f5b2"))
	// Output: http://localhost:8233/namespaces/prod/workflows/orders%2F2026-11-21%231/0196f5b2/history
}

func ExampleEscape() {
	fmt.Println(slack.Escape("<https://evil.example|click> & <!channel>"))
	// Output: &lt;https://evil.example|click&gt; &amp; &lt;!channel&gt;
}
