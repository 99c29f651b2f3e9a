package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/hooks/slack"
)

// Distinctive secret values: a test that finds one of them where it must not be fails.
const (
	webhookPath  = "/services/T0FLOWSTATE/B0SECRETHOOK/wh-7c1e0d5b-NEVER-IN-HISTORY"
	botToken     = "xoxb-flowstate-4f9a2c71-NEVER-IN-HISTORY-token"
	webhookName  = "slack-webhook/my-slack-webhook"
	tokenName    = "slack-token/alerts-bot"
	alertChannel = "#alerts"
)

// answer is one scripted answer of a fake Slack.
type answer struct {
	status  int
	body    string
	headers map[string]string
}

// request is what a fake Slack received.
type request struct {
	at      time.Time
	path    string
	token   string
	webhook *slackapi.WebhookMessage // webhook requests
	form    url.Values               // chat.postMessage requests
}

// fakeSlack answers with a script, then with the last answer of the script (200 ok when empty),
// and records what it received.
type fakeSlack struct {
	t      *testing.T
	now    func() time.Time
	mu     sync.Mutex
	script []answer
	reqs   []request
}

func newFakeSlack(t *testing.T, script ...answer) *fakeSlack {
	t.Helper()
	return &fakeSlack{t: t, now: time.Now, script: script}
}

func (f *fakeSlack) next() answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return answer{status: http.StatusOK}
	}
	a := f.script[0]
	if len(f.script) > 1 {
		f.script = f.script[1:]
	}
	return a
}

func (f *fakeSlack) record(r request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
}

func (f *fakeSlack) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeSlack) reply(w http.ResponseWriter, a answer, okBody string) {
	for k, v := range a.headers {
		w.Header().Set(k, v)
	}
	if a.status == 0 {
		a.status = http.StatusOK
	}
	if a.body == "" && a.status == http.StatusOK {
		a.body = okBody
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// webhookServer is an incoming-webhook receiver. It returns the webhook URL to store in the
// secret.
func (f *fakeSlack) webhookServer() string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slackapi.WebhookMessage
		body, err := io.ReadAll(r.Body)
		require.NoError(f.t, err)
		require.NoError(f.t, json.Unmarshal(body, &m), "webhook body: %s", body)
		f.record(request{at: f.now(), path: r.URL.Path, webhook: &m})
		f.reply(w, f.next(), "ok")
	}))
	f.t.Cleanup(srv.Close)
	return srv.URL + webhookPath
}

// apiServer is a slacktest server whose chat.postMessage answers with the script. It returns the
// API URL for Config.APIURL.
func (f *fakeSlack) apiServer() string {
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			require.NoError(f.t, r.ParseForm())
			f.record(request{at: f.now(), path: r.URL.Path, token: r.Form.Get("token"), form: r.Form})
			w.Header().Set("Content-Type", "application/json")
			f.reply(w, f.next(), `{"ok":true,"channel":"C0ALERTS","ts":"1700000000.000100"}`)
		})
	})
	srv.Start()
	f.t.Cleanup(srv.Stop)
	return srv.GetAPIURL()
}

// requireAppError returns err as a Temporal application error of type typ.
func requireAppError(t *testing.T, err error, typ string, retryable bool) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, typ, app.Type(), "error: %v", err)
	require.Equal(t, !retryable, app.NonRetryable(), "error: %v", err)
	require.Nil(t, errors.Unwrap(app), "a delivery error must not wrap slack-go's, whose text can hold the URL")
	return app
}

func requireNoSecret(t *testing.T, s string) {
	t.Helper()
	require.NotContains(t, s, webhookPath)
	require.NotContains(t, s, "wh-7c1e0d5b")
	require.NotContains(t, s, botToken)
	require.NotContains(t, s, "4f9a2c71")
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    answer
		typ       string
		retryable bool
		delay     time.Duration
		mention   []string
	}{
		{name: "ok", answer: answer{status: 200, body: "ok"}},
		{name: "429 with Retry-After", answer: answer{status: 429, headers: map[string]string{"Retry-After": "7"}},
			typ: slack.ErrorTypeRateLimited, retryable: true, delay: 7 * time.Second, mention: []string{"Retry-After 7s"}},
		{name: "429 with a date", answer: answer{status: 429, headers: map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
			typ: slack.ErrorTypeRateLimited, retryable: true, delay: time.Hour},
		{name: "429 without Retry-After", answer: answer{status: 429},
			typ: slack.ErrorTypeRateLimited, retryable: true},
		{name: "500", answer: answer{status: 500, body: "<html>oops</html>"},
			typ: slack.ErrorTypeUnavailable, retryable: true, mention: []string{"HTTP 500 Internal Server Error"}},
		{name: "503 rollup_error", answer: answer{status: 503, body: "rollup_error"},
			typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "404 no_service", answer: answer{status: 404, body: "no_service"},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"HTTP 404 Not Found, no_service", "revoked or removed", "not retrying"}},
		{name: "410 bare", answer: answer{status: 410},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"HTTP 410 Gone"}},
		{name: "410 channel_is_archived", answer: answer{status: 410, body: "channel_is_archived"},
			typ: slack.ErrorTypeChannel, mention: []string{"channel_is_archived"}},
		{name: "403 invalid_token", answer: answer{status: 403, body: "invalid_token"},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"invalid_token"}},
		{name: "400 invalid_payload", answer: answer{status: 400, body: "invalid_payload"},
			typ: slack.ErrorTypeRejected, mention: []string{"invalid_payload"}},
		{name: "404 page echoing the path", answer: answer{status: 404, body: "Not found: " + webhookPath},
			typ: slack.ErrorTypeWebhookRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeSlack(t, tt.answer)
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{webhookName: fake.webhookServer()})
			msg, err := slack.FlowMessage(slack.Config{WebhookSecret: webhookName}, failedCall())
			require.NoError(t, err)

			err = slack.Send(ctx, slack.Config{WebhookSecret: webhookName}, msg)
			require.Len(t, fake.requests(), 1)
			require.Equal(t, webhookPath, fake.requests()[0].path)
			if tt.typ == "" {
				require.NoError(t, err)
				return
			}
			app := requireAppError(t, err, tt.typ, tt.retryable)
			require.InDelta(t, tt.delay.Seconds(), app.NextRetryDelay().Seconds(), 2)
			require.Contains(t, err.Error(), `"`+webhookName+`"`)
			for _, m := range tt.mention {
				require.Contains(t, err.Error(), m)
			}
			requireNoSecret(t, err.Error())
		})
	}
}

func TestTokenAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    answer
		typ       string
		retryable bool
		delay     time.Duration
		mention   []string
	}{
		{name: "ok"},
		{name: "invalid_auth", answer: answer{body: `{"ok":false,"error":"invalid_auth"}`}, typ: slack.ErrorTypeAuth,
			mention: []string{"invalid_auth", "store a valid bot token", `"` + tokenName + `"`}},
		{name: "token_revoked", answer: answer{body: `{"ok":false,"error":"token_revoked"}`}, typ: slack.ErrorTypeAuth},
		{name: "account_inactive", answer: answer{body: `{"ok":false,"error":"account_inactive"}`}, typ: slack.ErrorTypeAuth},
		{name: "channel_not_found", answer: answer{body: `{"ok":false,"error":"channel_not_found"}`}, typ: slack.ErrorTypeChannel,
			mention: []string{`channel "#alerts"`, "channel_not_found"}},
		{name: "not_in_channel", answer: answer{body: `{"ok":false,"error":"not_in_channel"}`}, typ: slack.ErrorTypeChannel,
			mention: []string{"invite the bot"}},
		{name: "invalid_blocks", answer: answer{body: `{"ok":false,"error":"invalid_blocks"}`}, typ: slack.ErrorTypeRejected},
		{name: "internal_error", answer: answer{body: `{"ok":false,"error":"internal_error"}`}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "ratelimited in body", answer: answer{body: `{"ok":false,"error":"ratelimited"}`}, typ: slack.ErrorTypeRateLimited, retryable: true},
		{name: "unknown code", answer: answer{body: `{"ok":false,"error":"something_new"}`}, typ: slack.ErrorTypeUnavailable, retryable: true,
			mention: []string{"something_new"}},
		{name: "429", answer: answer{status: 429, headers: map[string]string{"Retry-After": "3"}}, typ: slack.ErrorTypeRateLimited,
			retryable: true, delay: 3 * time.Second},
		{name: "502", answer: answer{status: 502}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "not JSON", answer: answer{body: "<html>captive portal</html>"}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "404 wrong API URL", answer: answer{status: 404}, typ: slack.ErrorTypeRejected, mention: []string{"APIURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeSlack(t, tt.answer)
			cfg := slack.Config{TokenSecret: tokenName, Channel: alertChannel, APIURL: fake.apiServer()}
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{tokenName: botToken})
			msg, err := slack.FlowMessage(cfg, failedCall())
			require.NoError(t, err)

			err = slack.Send(ctx, cfg, msg)
			reqs := fake.requests()
			require.Len(t, reqs, 1)
			require.Equal(t, botToken, reqs[0].token)
			require.Equal(t, alertChannel, reqs[0].form.Get("channel"))
			require.Equal(t, msg.Text, reqs[0].form.Get("text"))
			if tt.typ == "" {
				require.NoError(t, err)
				return
			}
			app := requireAppError(t, err, tt.typ, tt.retryable)
			require.Equal(t, tt.delay, app.NextRetryDelay())
			require.Contains(t, err.Error(), `"`+tokenName+`"`)
			for _, m := range tt.mention {
				require.Contains(t, err.Error(), m)
			}
			requireNoSecret(t, err.Error())
		})
	}
}

func TestNetworkErrorsHideTheURL(t *testing.T) {
	// A server that is gone: the connection is refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + webhookPath
	srv.Close()
	// A server that never answers: the client times out.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(stop) })

	tests := []struct {
		name string
		url  string
		cfg  slack.Config
	}{
		{"refused", dead, slack.Config{WebhookSecret: webhookName}},
		{"timeout", hang.URL + webhookPath, slack.Config{WebhookSecret: webhookName, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}},
		{"token refused", strings.TrimSuffix(dead, webhookPath), slack.Config{TokenSecret: tokenName, Channel: alertChannel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.TokenSecret != "" {
				cfg.APIURL = tt.url
			}
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{webhookName: tt.url, tokenName: botToken})
			err := slack.Send(ctx, cfg, slack.Message{Text: "hi"})
			requireAppError(t, err, slack.ErrorTypeUnavailable, true)
			requireNoSecret(t, err.Error())
			require.NotContains(t, err.Error(), "/services/")
		})
	}
}

func TestSecretProblems(t *testing.T) {
	t.Setenv("FLOWSTATE_SECRET_SLACK_WEBHOOK_NOT_A_URL", "wh-7c1e0d5b not a url")
	tests := []struct {
		name      string
		ctx       context.Context
		cfg       slack.Config
		typ       string
		retryable bool
		mention   []string
	}{
		{name: "unknown", ctx: hooks.WithSecrets(t.Context(), secrets.Env()), cfg: slack.Config{WebhookSecret: "slack-webhook/missing"},
			typ: slack.ErrorTypeSecret, mention: []string{`secret "slack-webhook/missing"`, "FLOWSTATE_SECRET_SLACK_WEBHOOK_MISSING"}},
		{name: "no resolver", ctx: t.Context(), cfg: slack.Config{TokenSecret: tokenName, Channel: "c"},
			typ: slack.ErrorTypeSecret, mention: []string{tokenName, "worker.Options.Secrets"}},
		{name: "not a URL", ctx: hooks.WithSecrets(t.Context(), secrets.Env()), cfg: slack.Config{WebhookSecret: "slack-webhook/not-a-url"},
			typ: slack.ErrorTypeSecret, mention: []string{"slack-webhook/not-a-url", "does not hold"}},
		{name: "resolver down", ctx: hooks.WithSecrets(t.Context(), hooks.SecretResolverFunc(func(context.Context, string) (string, error) {
			return "", errors.New("vault: connection refused")
		})), cfg: slack.Config{WebhookSecret: webhookName}, typ: slack.ErrorTypeSecret, retryable: true, mention: []string{"vault: connection refused"}},
		{name: "invalid config", ctx: t.Context(), cfg: slack.Config{}, typ: slack.ErrorTypeConfig, mention: []string{"set WebhookSecret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := slack.Send(tt.ctx, tt.cfg, slack.Message{Text: "hi"})
			requireAppError(t, err, tt.typ, tt.retryable)
			for _, m := range tt.mention {
				require.Contains(t, err.Error(), m)
			}
			require.NotContains(t, err.Error(), "wh-7c1e0d5b")
		})
	}
}

func TestWebhookPayload(t *testing.T) {
	fake := newFakeSlack(t)
	ctx := hooks.WithSecrets(t.Context(), secrets.Map{webhookName: fake.webhookServer()})
	cfg := slack.Config{WebhookSecret: webhookName}
	msg, err := slack.FlowMessage(cfg, failedCall())
	require.NoError(t, err)
	require.NoError(t, slack.Send(ctx, cfg, msg))

	got := fake.requests()[0].webhook
	require.Equal(t, msg.Text, got.Text)
	require.NotNil(t, got.UnfurlLinks)
	require.False(t, *got.UnfurlLinks)
	require.NotNil(t, got.Blocks)
	require.Len(t, got.Blocks.BlockSet, 1)
	require.Len(t, got.Attachments, 1)
	require.Equal(t, "#E01E5A", got.Attachments[0].Color)
	require.Len(t, got.Attachments[0].Blocks.BlockSet, 3)
	fmt.Fprintln(io.Discard, got)
}
