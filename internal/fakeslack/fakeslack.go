// Package fakeslack is a scripted stand-in for Slack's incoming webhooks and Web API, for the
// tests of the Slack hook: slack-go talks to it over real HTTP, as it would to Slack.
package fakeslack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/stretchr/testify/require"
)

// Distinctive secret values: a test that finds one of them where it must not be fails.
const (
	WebhookPath  = "/services/T0FLOWSTATE/B0SECRETHOOK/wh-7c1e0d5b-NEVER-IN-HISTORY"
	BotToken     = "xoxb-flowstate-4f9a2c71-NEVER-IN-HISTORY-token"
	WebhookName  = "slack-webhook/my-slack-webhook"
	TokenName    = "slack-token/alerts-bot"
	AlertChannel = "#alerts"
)

// Answer is one scripted answer of a fake Slack.
type Answer struct {
	Status  int
	Body    string
	Headers map[string]string
}

// Request is what a fake Slack received.
type Request struct {
	At      time.Time
	Path    string
	Token   string
	Webhook *slackapi.WebhookMessage // webhook requests
	Form    url.Values               // chat.postMessage requests
}

// Slack answers with a script, then with the last answer of the script (200 ok when empty),
// and records what it received.
type Slack struct {
	t      *testing.T
	Now    func() time.Time
	mu     sync.Mutex
	script []Answer
	reqs   []Request
}

// New returns a fake Slack that answers with script.
func New(t *testing.T, script ...Answer) *Slack {
	t.Helper()
	return &Slack{t: t, Now: time.Now, script: script}
}

func (f *Slack) next() Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return Answer{Status: http.StatusOK}
	}
	a := f.script[0]
	if len(f.script) > 1 {
		f.script = f.script[1:]
	}
	return a
}

func (f *Slack) record(r Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
}

// Requests returns what the fake received, in order.
func (f *Slack) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

func (f *Slack) reply(w http.ResponseWriter, a Answer, okBody string) {
	for k, v := range a.Headers {
		w.Header().Set(k, v)
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	if a.Body == "" && a.Status == http.StatusOK {
		a.Body = okBody
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// WebhookServer starts an incoming-webhook receiver and returns the webhook URL to store in the
// secret. It stops when the test ends.
func (f *Slack) WebhookServer() string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slackapi.WebhookMessage
		body, err := io.ReadAll(r.Body)
		require.NoError(f.t, err)
		require.NoError(f.t, json.Unmarshal(body, &m), "webhook body: %s", body)
		f.record(Request{At: f.Now(), Path: r.URL.Path, Webhook: &m})
		f.reply(w, f.next(), "ok")
	}))
	f.t.Cleanup(srv.Close)
	return srv.URL + WebhookPath
}

// APIServer starts a slacktest server whose chat.postMessage answers with the script, and returns
// the API URL for slack.Config.APIURL. It stops when the test ends.
func (f *Slack) APIServer() string {
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			require.NoError(f.t, r.ParseForm())
			f.record(Request{At: f.Now(), Path: r.URL.Path, Token: r.Form.Get("token"), Form: r.Form})
			w.Header().Set("Content-Type", "application/json")
			f.reply(w, f.next(), `{"ok":true,"channel":"C0ALERTS","ts":"1700000000.000100"}`)
		})
	})
	srv.Start()
	f.t.Cleanup(srv.Stop)
	return srv.GetAPIURL()
}
