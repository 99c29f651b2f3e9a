package slack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/hooks/slack"
	"github.com/flowstate/flowstate/internal/fakeslack"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

// seedInput is the seed flow's input; Name feeds the run-name template.
type seedInput struct {
	Name string `json:"name"`
}

// seedFlow is seed example 1: a flow with one retry whose body fails, and Slack hooks on_failure.
func seedFlow(onFailure ...hooks.FlowHook) *adapter.Flow[seedInput, string] {
	return adapter.NewFlow("failing-flow", func(ctx workflow.Context, _ seedInput) (string, error) {
		return "", errors.New("oops!")
	}, adapter.FlowOptions{
		Retries:   1,
		Tags:      []string{"etl", "seed"},
		RunName:   "nightly {{.Params.name}}",
		OnFailure: onFailure,
	})
}

// fastRetries makes hook retries quick and recognisable: 10 ms of backoff.
var fastRetries = hooks.Options{RetryPolicy: &temporal.RetryPolicy{
	InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 3,
}}

// runSeed runs the seed flow in the in-memory environment and checks it failed after its retry.
func runSeed(t *testing.T, resolver hooks.SecretResolver, input seedInput, onFailure ...hooks.FlowHook) *testsuite.Env {
	t.Helper()
	f := seedFlow(onFailure...)
	env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{f}, Secrets: resolver})
	env.ExecuteFlow(f, input)
	require.True(t, env.IsWorkflowCompleted())
	_, err := testsuite.Result[string](env)
	require.ErrorContains(t, err, "oops!")
	require.Equal(t, []string{"Scheduled", "Running", "AwaitingRetry", "Retrying", "Failed"}, env.History().StateNames(env.History().WorkflowID))
	return env
}

// hookResult returns the recorded outcome of the hook named name.
func hookResult(t *testing.T, env *testsuite.Env, name string) hooks.HookResult {
	t.Helper()
	for _, h := range env.History().Hooks() {
		if h.Hook == name {
			return h
		}
	}
	t.Fatalf("no outcome of hook %q in the state history:\n%s", name, env.History().Timeline())
	return hooks.HookResult{}
}

func TestSeedFlowWebhook(t *testing.T) {
	fake := fakeslack.New(t)
	url := fake.WebhookServer()
	env := runSeed(t, secrets.Map{fakeslack.WebhookName: url}, seedInput{Name: "run"},
		slack.FlowHook("notify-slack", slack.Config{WebhookSecret: fakeslack.WebhookName, UIBaseURL: "https://temporal.example.com"}))

	// The hook ran once, after the last retry, for the Failed state.
	calls := env.CallsOf("notify-slack")
	require.Len(t, calls, 1)
	require.Equal(t, hooks.OnFailure, calls[0].Event)
	require.Equal(t, hooks.NameFailed, calls[0].State.Name)
	require.Equal(t, 2, calls[0].State.Attempt)
	require.NoError(t, calls[0].Err)
	require.Equal(t, hooks.HookCompleted, hookResult(t, env, "notify-slack").Status)

	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	got := reqs[0].Webhook
	h := env.History()
	ns := calls[0].FlowRun.Namespace
	require.NotEmpty(t, ns)
	link := "https://temporal.example.com/namespaces/" + ns + "/workflows/" + h.WorkflowID + "/" + h.RunID + "/history"
	require.Contains(t, got.Text, "Your job nightly run entered Failed with message:\n\noops!\n\n")
	require.Contains(t, got.Text, "See <"+link+"|the flow run in the UI>")
	require.Contains(t, got.Text, "Tags: etl, seed")
	require.Regexp(t, `Scheduled start: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, got.Text)

	// Blocks: a headline, and an attachment coloured red with the message, fields and the link.
	require.NotNil(t, got.Blocks)
	require.Len(t, got.Blocks.BlockSet, 1)
	headline, ok := got.Blocks.BlockSet[0].(*slackapi.SectionBlock)
	require.True(t, ok)
	require.Equal(t, "Flow run *nightly run* entered *Failed*", headline.Text.Text)
	require.Len(t, got.Attachments, 1)
	att := got.Attachments[0]
	require.Equal(t, "#E01E5A", att.Color)
	require.Len(t, att.Blocks.BlockSet, 3)
	msgBlock := att.Blocks.BlockSet[0].(*slackapi.SectionBlock)
	require.Equal(t, "*Message*\noops!", msgBlock.Text.Text)
	var fields []string
	for _, f := range att.Blocks.BlockSet[1].(*slackapi.SectionBlock).Fields {
		fields = append(fields, f.Text)
	}
	require.Contains(t, fields, "*Flow*\nfailing-flow")
	require.Contains(t, fields, "*State*\nFailed (FAILED)")
	require.Contains(t, fields, "*Attempt*\n2")
	require.Contains(t, fields, "*Tags*\netl, seed")
	ctxBlock := att.Blocks.BlockSet[2].(*slackapi.ContextBlock)
	require.Contains(t, ctxBlock.ContextElements.Elements[0].(*slackapi.TextBlockObject).Text, "<"+link+"|the flow run in the UI>")
}

func TestSeedFlowBotToken(t *testing.T) {
	fake := fakeslack.New(t)
	cfg := slack.Config{TokenSecret: fakeslack.TokenName, Channel: fakeslack.AlertChannel, APIURL: fake.APIServer()}
	env := runSeed(t, secrets.Map{fakeslack.TokenName: fakeslack.BotToken}, seedInput{Name: "run"}, slack.FlowHook("notify-bot", cfg))

	require.Len(t, env.CallsOf("notify-bot"), 1)
	require.Equal(t, hooks.HookCompleted, hookResult(t, env, "notify-bot").Status)
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/chat.postMessage", reqs[0].Path)
	require.Equal(t, fakeslack.BotToken, reqs[0].Token)
	require.Equal(t, fakeslack.AlertChannel, reqs[0].Form.Get("channel"))
	require.Contains(t, reqs[0].Form.Get("text"), "Your job nightly run entered Failed with message:\n\noops!")
	require.Contains(t, reqs[0].Form.Get("blocks"), "Flow run *nightly run* entered *Failed*")
	require.Contains(t, reqs[0].Form.Get("attachments"), `"color":"#E01E5A"`)
}

func TestTemplateOverride(t *testing.T) {
	fake := fakeslack.New(t)
	cfg := slack.Config{
		WebhookSecret: fakeslack.WebhookName,
		Template:      `<!here> {{.FlowName}}/{{.Name}}: {{.State}} ({{.StateType}}) after attempt {{.Attempt}}: {{.Message}} [{{join .Tags "|"}}] {{.Params.name}} <{{.URL}}|open>`,
	}
	env := runSeed(t, secrets.Map{fakeslack.WebhookName: fake.WebhookServer()}, seedInput{Name: "x"}, slack.FlowHook("notify-slack", cfg))

	h := env.History()
	ns := env.CallsOf("notify-slack")[0].FlowRun.Namespace
	got := fake.Requests()[0].Webhook
	require.Equal(t, "<!here> failing-flow/nightly x: Failed (FAILED) after attempt 2: oops! [etl|seed] x "+
		"<http://localhost:8233/namespaces/"+ns+"/workflows/"+h.WorkflowID+"/"+h.RunID+"/history|open>", got.Text)
	require.Nil(t, got.Blocks)
	require.Empty(t, got.Attachments)
}

func TestHostileRunNameIsEscaped(t *testing.T) {
	fake := fakeslack.New(t)
	env := runSeed(t, secrets.Map{fakeslack.WebhookName: fake.WebhookServer()}, seedInput{Name: hostile},
		slack.FlowHook("notify-slack", slack.Config{WebhookSecret: fakeslack.WebhookName}))
	require.Equal(t, "nightly "+hostile, env.CallsOf("notify-slack")[0].FlowRun.Name)

	got := fake.Requests()[0].Webhook
	requireNoRawMarkup(t, got.Text)
	require.Contains(t, got.Text, "Your job nightly &lt;!channel&gt; &lt;https://evil.example|click here&gt; &lt;@U123&gt; &amp;amp; entered Failed")
	// The only link in the text is the one to the UI.
	require.Equal(t, 1, strings.Count(got.Text, "<"))
	for _, b := range got.Blocks.BlockSet {
		requireNoRawMarkup(t, b.(*slackapi.SectionBlock).Text.Text)
	}
	for _, b := range got.Attachments[0].Blocks.BlockSet {
		switch b := b.(type) {
		case *slackapi.SectionBlock:
			for _, f := range b.Fields {
				requireNoRawMarkup(t, f.Text)
			}
		case *slackapi.ContextBlock:
			requireNoRawMarkup(t, b.ContextElements.Elements[0].(*slackapi.TextBlockObject).Text)
		}
	}
}

func TestRateLimitedThenDelivered(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		wait       time.Duration
	}{
		{"Retry-After 1", "1", time.Second},
		{"Retry-After 5", "5", 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeslack.New(t,
				fakeslack.Answer{Status: http.StatusTooManyRequests, Headers: map[string]string{"Retry-After": tt.retryAfter}},
				fakeslack.Answer{Status: http.StatusOK, Body: "ok"})
			f := seedFlow(slack.FlowHook("notify-slack", slack.Config{WebhookSecret: fakeslack.WebhookName}, fastRetries))
			env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{f}, Secrets: secrets.Map{fakeslack.WebhookName: fake.WebhookServer()}})
			// Time in the environment is the workflow clock, which skips ahead over timers and
			// retry delays: read it when each request arrives.
			fake.Now = env.Now
			env.ExecuteFlow(f, seedInput{Name: "run"})
			require.True(t, env.IsWorkflowCompleted())

			calls := env.CallsOf("notify-slack")
			require.Len(t, calls, 2, "the second attempt happened")
			app := requireAppError(t, calls[0].Err, slack.ErrorTypeRateLimited, true)
			require.Equal(t, tt.wait, app.NextRetryDelay())
			require.NoError(t, calls[1].Err)
			require.Equal(t, hooks.HookCompleted, hookResult(t, env, "notify-slack").Status)

			reqs := fake.Requests()
			require.Len(t, reqs, 2)
			gap := reqs[1].At.Sub(reqs[0].At)
			require.GreaterOrEqual(t, gap, tt.wait, "the retry waited for Retry-After, not the 10ms backoff")
			require.Less(t, gap, tt.wait+time.Second)
			require.Equal(t, reqs[0].Webhook.Text, reqs[1].Webhook.Text)
		})
	}
}

func TestPermanentFailuresDoNotRetry(t *testing.T) {
	tests := []struct {
		name    string
		answer  fakeslack.Answer
		secret  string // the secret the hook names; fakeslack.WebhookName is the one the worker has
		typ     string
		mention []string
	}{
		{name: "revoked webhook 410", answer: fakeslack.Answer{Status: http.StatusGone}, secret: fakeslack.WebhookName,
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"revoked or removed", "HTTP 410"}},
		{name: "revoked webhook 404 no_service", answer: fakeslack.Answer{Status: http.StatusNotFound, Body: "no_service"}, secret: fakeslack.WebhookName,
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"no_service"}},
		{name: "unknown secret", secret: "slack-webhook/typo", typ: slack.ErrorTypeSecret,
			mention: []string{"FLOWSTATE_SECRET_SLACK_WEBHOOK_TYPO"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeslack.New(t, tt.answer)
			resolver := secrets.Chain(secrets.Env(), secrets.Map{fakeslack.WebhookName: fake.WebhookServer()})
			env := runSeed(t, resolver, seedInput{Name: "run"},
				slack.FlowHook("notify-slack", slack.Config{WebhookSecret: tt.secret}, fastRetries),
				hooks.NewFlowHook("after", func(context.Context, hooks.FlowCall) error { return nil }))

			calls := env.CallsOf("notify-slack")
			require.Len(t, calls, 1, "exactly one attempt")
			requireAppError(t, calls[0].Err, tt.typ, false)
			if tt.typ != slack.ErrorTypeSecret {
				require.Len(t, fake.Requests(), 1)
			} else {
				require.Empty(t, fake.Requests())
			}

			// The failure is in the state history, naming the secret; the run's state is
			// unchanged and the next hook still ran.
			res := hookResult(t, env, "notify-slack")
			require.Equal(t, hooks.HookFailed, res.Status)
			require.Contains(t, res.Error, `"`+tt.secret+`"`)
			for _, m := range tt.mention {
				require.Contains(t, res.Error, m)
			}
			requireNoSecret(t, res.Error)
			require.Equal(t, hooks.HookCompleted, hookResult(t, env, "after").Status)
			require.Equal(t, hooks.NameFailed, env.History().State.Name)
			require.Contains(t, env.History().Timeline(), "hook on_failure notify-slack: failed")
		})
	}
}

func TestTransientFailuresRetryUntilTheyGiveUp(t *testing.T) {
	fake := fakeslack.New(t, fakeslack.Answer{Status: http.StatusServiceUnavailable})
	env := runSeed(t, secrets.Map{fakeslack.WebhookName: fake.WebhookServer()}, seedInput{Name: "run"},
		slack.FlowHook("notify-slack", slack.Config{WebhookSecret: fakeslack.WebhookName}, fastRetries))

	calls := env.CallsOf("notify-slack")
	require.Len(t, calls, 3, "MaximumAttempts of the hook's retry policy")
	for _, c := range calls {
		requireAppError(t, c.Err, slack.ErrorTypeUnavailable, true)
	}
	res := hookResult(t, env, "notify-slack")
	require.Equal(t, hooks.HookFailed, res.Status)
	require.Contains(t, res.Error, "HTTP 503")
	require.Contains(t, res.Error, fakeslack.WebhookName)
}

func TestTaskHook(t *testing.T) {
	fake := fakeslack.New(t)
	notify := slack.TaskHook("notify-task", slack.Config{WebhookSecret: fakeslack.WebhookName})
	task := adapter.NewTask("fetch", func(ctx context.Context, n int) (int, error) {
		return 0, errors.New("upstream <!channel> down")
	}, adapter.TaskOptions{Tags: []string{"io"}, OnFailure: []hooks.TaskHook{notify}})
	f := adapter.NewFlow("etl", func(ctx workflow.Context, _ struct{}) (string, error) {
		_, st := task.RunState(ctx, 1)
		// The link of a task hook goes to the flow run, in the flow run's namespace.
		return st.Name + " " + adapter.FlowRunInfo(ctx).Namespace, nil
	})
	env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{task}, Secrets: secrets.Map{fakeslack.WebhookName: fake.WebhookServer()}})
	env.ExecuteFlow(f, nil)
	out, err := testsuite.Result[string](env)
	require.NoError(t, err)
	state, ns, _ := strings.Cut(out, " ")
	require.Equal(t, hooks.NameFailed, state)
	require.NotEmpty(t, ns)

	require.Len(t, env.CallsOf("notify-task"), 1)
	h := env.History()
	got := fake.Requests()[0].Webhook
	require.Contains(t, got.Text, "Your task fetch#1 of flow run "+h.WorkflowID+" entered Failed with message:")
	require.Contains(t, got.Text, "upstream &lt;!channel&gt; down")
	require.Contains(t, got.Text, "<http://localhost:8233/namespaces/"+ns+"/workflows/"+h.WorkflowID+"/"+h.RunID+"/history|the flow run in the UI>")
	require.Contains(t, got.Text, "Tags: io")
	require.NotContains(t, got.Text, "Scheduled start")
	require.Equal(t, "Task *fetch#1* of flow run *"+h.WorkflowID+"* entered *Failed*", got.Blocks.BlockSet[0].(*slackapi.SectionBlock).Text.Text)
}

func TestInvalidConfigIsRefusedByTheWorker(t *testing.T) {
	hook := slack.FlowHook("notify-slack", slack.Config{Template: "{{"}, fastRetries)
	require.ErrorIs(t, hook.Err(), slack.ErrInvalidConfig)
	f := adapter.NewFlow("invalid-slack", func(ctx workflow.Context, _ struct{}) (struct{}, error) {
		return struct{}{}, nil
	}, adapter.FlowOptions{OnFailure: []hooks.FlowHook{hook}})
	_, err := testsuite.TryNewEnv(t, worker.Options{Flows: []adapter.AnyFlow{f}})
	require.ErrorIs(t, err, slack.ErrInvalidConfig)
	require.ErrorIs(t, err, adapter.ErrInvalidOptions)
	require.ErrorContains(t, err, "set WebhookSecret")
	require.ErrorContains(t, err, `hook "notify-slack"`)
}
