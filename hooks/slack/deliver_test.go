package slack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/hooks/slack"
	"github.com/flowstate/flowstate/internal/fakeslack"
)

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
	require.NotContains(t, s, fakeslack.WebhookPath)
	require.NotContains(t, s, "wh-7c1e0d5b")
	require.NotContains(t, s, fakeslack.BotToken)
	require.NotContains(t, s, "4f9a2c71")
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    fakeslack.Answer
		typ       string
		retryable bool
		delay     time.Duration
		mention   []string
	}{
		{name: "ok", answer: fakeslack.Answer{Status: 200, Body: "ok"}},
		{name: "429 with Retry-After", answer: fakeslack.Answer{Status: 429, Headers: map[string]string{"Retry-After": "7"}},
			typ: slack.ErrorTypeRateLimited, retryable: true, delay: 7 * time.Second, mention: []string{"Retry-After 7s"}},
		{name: "429 with a date", answer: fakeslack.Answer{Status: 429, Headers: map[string]string{"Retry-After": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
			typ: slack.ErrorTypeRateLimited, retryable: true, delay: time.Hour},
		{name: "429 without Retry-After", answer: fakeslack.Answer{Status: 429},
			typ: slack.ErrorTypeRateLimited, retryable: true},
		{name: "500", answer: fakeslack.Answer{Status: 500, Body: "<html>oops</html>"},
			typ: slack.ErrorTypeUnavailable, retryable: true, mention: []string{"HTTP 500 Internal Server Error"}},
		{name: "503 rollup_error", answer: fakeslack.Answer{Status: 503, Body: "rollup_error"},
			typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "404 no_service", answer: fakeslack.Answer{Status: 404, Body: "no_service"},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"HTTP 404 Not Found, no_service", "revoked or removed", "not retrying"}},
		{name: "410 bare", answer: fakeslack.Answer{Status: 410},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"HTTP 410 Gone"}},
		{name: "410 channel_is_archived", answer: fakeslack.Answer{Status: 410, Body: "channel_is_archived"},
			typ: slack.ErrorTypeChannel, mention: []string{"channel_is_archived"}},
		{name: "403 invalid_token", answer: fakeslack.Answer{Status: 403, Body: "invalid_token"},
			typ: slack.ErrorTypeWebhookRevoked, mention: []string{"invalid_token"}},
		{name: "400 invalid_payload", answer: fakeslack.Answer{Status: 400, Body: "invalid_payload"},
			typ: slack.ErrorTypeRejected, mention: []string{"invalid_payload"}},
		{name: "404 page echoing the path", answer: fakeslack.Answer{Status: 404, Body: "Not found: " + fakeslack.WebhookPath},
			typ: slack.ErrorTypeWebhookRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeslack.New(t, tt.answer)
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{fakeslack.WebhookName: fake.WebhookServer()})
			msg, err := slack.FlowMessage(slack.Config{WebhookSecret: fakeslack.WebhookName}, failedCall())
			require.NoError(t, err)

			err = slack.Send(ctx, slack.Config{WebhookSecret: fakeslack.WebhookName}, msg)
			require.Len(t, fake.Requests(), 1)
			require.Equal(t, fakeslack.WebhookPath, fake.Requests()[0].Path)
			if tt.typ == "" {
				require.NoError(t, err)
				return
			}
			app := requireAppError(t, err, tt.typ, tt.retryable)
			require.InDelta(t, tt.delay.Seconds(), app.NextRetryDelay().Seconds(), 2)
			require.Contains(t, err.Error(), `"`+fakeslack.WebhookName+`"`)
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
		answer    fakeslack.Answer
		typ       string
		retryable bool
		delay     time.Duration
		mention   []string
	}{
		{name: "ok"},
		{name: "invalid_auth", answer: fakeslack.Answer{Body: `{"ok":false,"error":"invalid_auth"}`}, typ: slack.ErrorTypeAuth,
			mention: []string{"invalid_auth", "store a valid bot token", `"` + fakeslack.TokenName + `"`}},
		{name: "token_revoked", answer: fakeslack.Answer{Body: `{"ok":false,"error":"token_revoked"}`}, typ: slack.ErrorTypeAuth},
		{name: "account_inactive", answer: fakeslack.Answer{Body: `{"ok":false,"error":"account_inactive"}`}, typ: slack.ErrorTypeAuth},
		{name: "channel_not_found", answer: fakeslack.Answer{Body: `{"ok":false,"error":"channel_not_found"}`}, typ: slack.ErrorTypeChannel,
			mention: []string{`channel "#alerts"`, "channel_not_found"}},
		{name: "not_in_channel", answer: fakeslack.Answer{Body: `{"ok":false,"error":"not_in_channel"}`}, typ: slack.ErrorTypeChannel,
			mention: []string{"invite the bot"}},
		{name: "invalid_blocks", answer: fakeslack.Answer{Body: `{"ok":false,"error":"invalid_blocks"}`}, typ: slack.ErrorTypeRejected},
		{name: "internal_error", answer: fakeslack.Answer{Body: `{"ok":false,"error":"internal_error"}`}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "ratelimited in body", answer: fakeslack.Answer{Body: `{"ok":false,"error":"ratelimited"}`}, typ: slack.ErrorTypeRateLimited, retryable: true},
		{name: "unknown code", answer: fakeslack.Answer{Body: `{"ok":false,"error":"something_new"}`}, typ: slack.ErrorTypeUnavailable, retryable: true,
			mention: []string{"something_new"}},
		{name: "429", answer: fakeslack.Answer{Status: 429, Headers: map[string]string{"Retry-After": "3"}}, typ: slack.ErrorTypeRateLimited,
			retryable: true, delay: 3 * time.Second},
		{name: "502", answer: fakeslack.Answer{Status: 502}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "not JSON", answer: fakeslack.Answer{Body: "<html>captive portal</html>"}, typ: slack.ErrorTypeUnavailable, retryable: true},
		{name: "404 wrong API URL", answer: fakeslack.Answer{Status: 404}, typ: slack.ErrorTypeRejected, mention: []string{"APIURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fakeslack.New(t, tt.answer)
			cfg := slack.Config{TokenSecret: fakeslack.TokenName, Channel: fakeslack.AlertChannel, APIURL: fake.APIServer()}
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{fakeslack.TokenName: fakeslack.BotToken})
			msg, err := slack.FlowMessage(cfg, failedCall())
			require.NoError(t, err)

			err = slack.Send(ctx, cfg, msg)
			reqs := fake.Requests()
			require.Len(t, reqs, 1)
			require.Equal(t, fakeslack.BotToken, reqs[0].Token)
			require.Equal(t, fakeslack.AlertChannel, reqs[0].Form.Get("channel"))
			require.Equal(t, msg.Text, reqs[0].Form.Get("text"))
			if tt.typ == "" {
				require.NoError(t, err)
				return
			}
			app := requireAppError(t, err, tt.typ, tt.retryable)
			require.Equal(t, tt.delay, app.NextRetryDelay())
			require.Contains(t, err.Error(), `"`+fakeslack.TokenName+`"`)
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
	dead := srv.URL + fakeslack.WebhookPath
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
		{"refused", dead, slack.Config{WebhookSecret: fakeslack.WebhookName}},
		{"timeout", hang.URL + fakeslack.WebhookPath, slack.Config{WebhookSecret: fakeslack.WebhookName, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}},
		{"token refused", strings.TrimSuffix(dead, fakeslack.WebhookPath), slack.Config{TokenSecret: fakeslack.TokenName, Channel: fakeslack.AlertChannel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.TokenSecret != "" {
				cfg.APIURL = tt.url
			}
			ctx := hooks.WithSecrets(t.Context(), secrets.Map{fakeslack.WebhookName: tt.url, fakeslack.TokenName: fakeslack.BotToken})
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
		{name: "no resolver", ctx: t.Context(), cfg: slack.Config{TokenSecret: fakeslack.TokenName, Channel: "c"},
			typ: slack.ErrorTypeSecret, mention: []string{fakeslack.TokenName, "worker.Options.Secrets"}},
		{name: "not a URL", ctx: hooks.WithSecrets(t.Context(), secrets.Env()), cfg: slack.Config{WebhookSecret: "slack-webhook/not-a-url"},
			typ: slack.ErrorTypeSecret, mention: []string{"slack-webhook/not-a-url", "does not hold"}},
		{name: "resolver down", ctx: hooks.WithSecrets(t.Context(), hooks.SecretResolverFunc(func(context.Context, string) (string, error) {
			return "", errors.New("vault: connection refused")
		})), cfg: slack.Config{WebhookSecret: fakeslack.WebhookName}, typ: slack.ErrorTypeSecret, retryable: true, mention: []string{"vault: connection refused"}},
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
	fake := fakeslack.New(t)
	ctx := hooks.WithSecrets(t.Context(), secrets.Map{fakeslack.WebhookName: fake.WebhookServer()})
	cfg := slack.Config{WebhookSecret: fakeslack.WebhookName}
	msg, err := slack.FlowMessage(cfg, failedCall())
	require.NoError(t, err)
	require.NoError(t, slack.Send(ctx, cfg, msg))

	got := fake.Requests()[0].Webhook
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
