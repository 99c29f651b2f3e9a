package slack_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/slack"
)

// hostile is a value a user could give a run: a channel ping, a forged link, a user mention and
// an entity.
const hostile = "<!channel> <https://evil.example|click here> <@U123> &amp;"

// requireNoRawMarkup fails when s holds Slack markup that hostile would inject.
func requireNoRawMarkup(t *testing.T, s string) {
	t.Helper()
	for _, bad := range []string{"<!channel>", "<https://evil.example", "<@U123>", "&amp;amp;amp;"} {
		require.NotContains(t, s, bad)
	}
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"plain":                       "plain",
		"<!channel>":                  "&lt;!channel&gt;",
		"<https://evil|click>":        "&lt;https://evil|click&gt;",
		"a & b":                       "a &amp; b",
		"&lt;":                        "&amp;lt;",
		"*bold* _it_ `code` ~strike~": "*bold* _it_ `code` ~strike~",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			require.Equal(t, want, slack.Escape(in))
		})
	}
}

func TestFlowMessageEscapesUserValues(t *testing.T) {
	call := failedCall()
	call.Run.Name = hostile
	call.Run.Tags = []string{hostile, "ok"}
	call.State.Message = "boom: " + hostile
	call.State.ErrorType = hostile
	call.Run.Parameters = json.RawMessage(`{"name": "` + strings.ReplaceAll(hostile, `"`, `\"`) + `"}`)
	call.Run.Data = map[string]json.RawMessage{"resource": json.RawMessage(`"` + hostile + `"`)}
	call.Run.ID = "<!here>"

	cfg := slack.Config{WebhookSecret: "w"}
	msg, err := slack.FlowMessage(cfg, call)
	require.NoError(t, err)
	requireNoRawMarkup(t, msg.Text)
	require.NotContains(t, msg.Text, "<!here>")
	require.Contains(t, msg.Text, "Your job &lt;!channel&gt; &lt;https://evil.example|click here&gt; &lt;@U123&gt; &amp;amp; entered Failed")
	require.Contains(t, msg.Text, "/workflows/%3C%21here%3E/")

	raw, err := json.Marshal(struct {
		B any
		A any
	}{msg.Blocks, msg.Attachments})
	require.NoError(t, err)
	// json.Marshal escapes < > & as \u003c \u003e \u0026; undo it to see what Slack gets.
	blocks := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(raw))
	requireNoRawMarkup(t, blocks)
	require.Contains(t, blocks, "&lt;!channel&gt;")

	cfg.Template = "{{.Params.name}} | {{index .RunData \"resource\"}} | {{.ErrorType}} | {{join .Tags \"/\"}} | {{escape \"<raw>\"}}"
	msg, err = slack.FlowMessage(cfg, call)
	require.NoError(t, err)
	requireNoRawMarkup(t, msg.Text)
	require.Contains(t, msg.Text, "&lt;raw&gt;")
}

func TestFlowMessageText(t *testing.T) {
	completed := failedCall()
	completed.State = hooks.State{Type: hooks.Completed, Name: hooks.NameCompleted, Attempt: 1}
	completed.Run.Tags = nil
	completed.Flow.Tags = []string{"from-flow"}

	noRunID := failedCall()
	noRunID.Run.RunID = ""
	noRunID.Run.Namespace = ""
	noRunID.Run.Name = ""
	noRunID.Run.ExpectedStartTime = time.Time{}

	tests := []struct {
		name     string
		cfg      slack.Config
		call     hooks.FlowCall
		contains []string
		absent   []string
		color    string
	}{
		{
			name: "failed",
			cfg:  slack.Config{WebhookSecret: "w"},
			call: failedCall(),
			contains: []string{
				"Your job nightly &lt;!channel&gt; entered Failed with message:\n\noops!\n\n",
				"See <http://localhost:8233/namespaces/default/workflows/failing-flow-42/0196f5b2-1c1e-7d0a-9f3e-4b6a8c2d1e0f/history|the flow run in the UI>",
				"Tags: etl, prod",
				"Scheduled start: 2026-11-21T10:07:26Z",
			},
			color: "#E01E5A",
		},
		{
			name:     "completed without message, flow tags",
			cfg:      slack.Config{TokenSecret: "t", Channel: "#c", UIBaseURL: "https://ui.example/", Namespace: "ignored"},
			call:     completed,
			contains: []string{"entered Completed.\n\nSee <https://ui.example/namespaces/default/", "Tags: from-flow"},
			absent:   []string{"with message", "ignored"},
			color:    "#2EB67D",
		},
		{
			name:     "no run ID, namespace from config",
			cfg:      slack.Config{WebhookSecret: "w", Namespace: "prod"},
			call:     noRunID,
			contains: []string{"Your job failing-flow-42 entered", "<http://localhost:8233/namespaces/prod/workflows/failing-flow-42|the flow run in the UI>"},
			absent:   []string{"Scheduled start", "/history"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := slack.FlowMessage(tt.cfg, tt.call)
			require.NoError(t, err)
			for _, c := range tt.contains {
				require.Contains(t, msg.Text, c)
			}
			for _, a := range tt.absent {
				require.NotContains(t, msg.Text, a)
			}
			if tt.color != "" {
				require.Len(t, msg.Attachments, 1)
				require.Equal(t, tt.color, msg.Attachments[0].Color)
			}
		})
	}
}

func TestTaskMessage(t *testing.T) {
	call := hooks.TaskCall{
		Task: hooks.TaskInfo{Name: "fetch", Tags: []string{"io"}},
		Run: hooks.TaskRun{
			ID: "fetch#2", TaskName: "fetch", FlowRunID: "etl/2026-11-21", FlowRunRunID: "run-1",
		},
		State: hooks.State{Type: hooks.Crashed, Name: hooks.NameCrashed, Message: "worker died", Attempt: 3},
		Hook:  hooks.CallInfo{Name: "notify-task", Event: hooks.OnCrashed},
	}
	msg, err := slack.TaskMessage(slack.Config{WebhookSecret: "w", Namespace: "prod"}, call)
	require.NoError(t, err)
	require.Equal(t, "Your task fetch#2 of flow run etl/2026-11-21 entered Crashed with message:\n\nworker died\n\n"+
		"See <http://localhost:8233/namespaces/prod/workflows/etl%2F2026-11-21/run-1/history|the flow run in the UI>\n\n"+
		"Tags: io", msg.Text)
	require.Equal(t, "#F2711C", msg.Attachments[0].Color)
}

func TestLongMessageIsCut(t *testing.T) {
	call := failedCall()
	call.State.Message = strings.Repeat("<", 5000)
	msg, err := slack.FlowMessage(slack.Config{WebhookSecret: "w"}, call)
	require.NoError(t, err)
	require.Less(t, len(msg.Text), 3000)
	require.Contains(t, msg.Text, "&lt;&lt;…")
	require.NotContains(t, msg.Text, "&l…")
}

func TestStateColor(t *testing.T) {
	seen := map[string]hooks.StateType{}
	for _, st := range []hooks.StateType{hooks.Completed, hooks.Failed, hooks.Crashed, hooks.Running, hooks.Cancelled, hooks.Scheduled} {
		c := slack.StateColor(st)
		require.Regexp(t, `^#[0-9A-F]{6}$`, c)
		_, dup := seen[c]
		require.False(t, dup, "%s and %s share a colour", st, seen[c])
		seen[c] = st
	}
	require.Equal(t, slack.StateColor(hooks.Cancelled), slack.StateColor(hooks.Cancelling))
	require.Equal(t, slack.StateColor(hooks.Scheduled), slack.StateColor(hooks.Pending))
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  slack.Config
		bad  string
	}{
		{name: "webhook", cfg: slack.Config{WebhookSecret: "slack-webhook/x"}},
		{name: "token", cfg: slack.Config{TokenSecret: "slack-token/x", Channel: "#alerts", APIURL: "http://127.0.0.1:1/api"}},
		{name: "nothing", cfg: slack.Config{}, bad: "set WebhookSecret, or TokenSecret and Channel"},
		{name: "both", cfg: slack.Config{WebhookSecret: "a", TokenSecret: "b", Channel: "c"}, bad: "not both"},
		{name: "token without channel", cfg: slack.Config{TokenSecret: "b"}, bad: "needs a Channel"},
		{name: "spaces", cfg: slack.Config{WebhookSecret: " a"}, bad: "spaces"},
		{name: "bad ui", cfg: slack.Config{WebhookSecret: "a", UIBaseURL: "localhost:8233"}, bad: "UIBaseURL"},
		{name: "bad api", cfg: slack.Config{WebhookSecret: "a", APIURL: "/api"}, bad: "APIURL"},
		{name: "bad template", cfg: slack.Config{WebhookSecret: "a", Template: "{{.Name"}, bad: "Template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.bad == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, slack.ErrInvalidConfig)
			require.ErrorContains(t, err, tt.bad)
		})
	}
}

func TestTemplateError(t *testing.T) {
	_, err := slack.FlowMessage(slack.Config{WebhookSecret: "w", Template: "{{.NoSuchField}}"}, failedCall())
	require.ErrorIs(t, err, slack.ErrInvalidConfig)
}

func TestReadableErrorType(t *testing.T) {
	tests := map[string]string{
		"*errors.errorString": "",
		"*fmt.wrapError":      "",
		"*errors.joinError":   "",
		"":                    "",
		"*url.Error":          "url.Error",
		"PaymentDeclined":     "PaymentDeclined",
		"flowstate.Panic":     "flowstate.Panic",
		"TimeoutError":        "TimeoutError",
		"shop.OutOfStock":     "shop.OutOfStock",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			require.Equal(t, want, slack.ReadableErrorType(in))
		})
	}
}

// A flow whose body returned errors.New("oops!") fails with the error type *errors.errorString:
// the message shows no Go type.
func TestMessageHidesGoErrorTypes(t *testing.T) {
	call := failedCall()
	for errType, shown := range map[string]bool{"*errors.errorString": false, "PaymentDeclined": true} {
		call.State.ErrorType = errType
		msg, err := slack.FlowMessage(slack.Config{WebhookSecret: "w"}, call)
		require.NoError(t, err)
		raw, err := json.Marshal(msg)
		require.NoError(t, err)
		require.NotContains(t, string(raw), "errorString")
		require.Equal(t, shown, strings.Contains(string(raw), "*Error type*"), string(raw))

		msg, err = slack.FlowMessage(slack.Config{WebhookSecret: "w", Template: "type={{.ErrorType}}"}, call)
		require.NoError(t, err)
		if shown {
			require.Equal(t, "type="+errType, msg.Text)
		} else {
			require.Equal(t, "type=", msg.Text)
		}
	}
}
