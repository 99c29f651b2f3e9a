package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/hooks/slack"
	"github.com/flowstate/flowstate/internal/fakeslack"
	"github.com/flowstate/flowstate/worker"
)

// syncBuffer is a log destination shared by the SDK's logger and flowstate's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// corpus is every piece of text a workflow history holds.
type corpus struct {
	text     strings.Builder
	payloads int
}

func (c *corpus) add(s string) { c.text.WriteString(s); c.text.WriteByte('\n') }

// addMessage adds a message's protojson text, then walks it: every string, the raw bytes of every
// bytes field (payload data included), and every payload decoded with the default data converter.
func (c *corpus) addMessage(t *testing.T, m proto.Message) {
	t.Helper()
	raw, err := protojson.Marshal(m)
	require.NoError(t, err)
	c.add(string(raw))
	c.walk(t, m.ProtoReflect())
}

func (c *corpus) walk(t *testing.T, m protoreflect.Message) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		c.payloads++
		var v any
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err == nil {
			decoded, err := json.Marshal(v)
			require.NoError(t, err)
			c.add(string(decoded))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.value(t, fd, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				c.add(k.String())
				c.value(t, fd.MapValue(), mv)
				return true
			})
		default:
			c.value(t, fd, v)
		}
		return true
	})
}

func (c *corpus) value(t *testing.T, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		c.walk(t, v.Message())
	case protoreflect.StringKind:
		c.add(v.String())
	case protoreflect.BytesKind:
		c.add(string(v.Bytes()))
	}
}

// TestEndToEndSecretsStayOutOfHistory runs seed example 1 on a real Temporal server with four
// Slack hooks on_failure, reading their secrets from the environment and from a secrets file:
// a webhook, a bot token, a revoked webhook and a rate-limited webhook. It then reads the run's
// whole workflow history and the worker's log and finds no secret value in them.
func TestEndToEndSecretsStayOutOfHistory(t *testing.T) {
	start := time.Now()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	t.Logf("server up in %s", time.Since(start).Round(time.Millisecond))

	// Four fake Slacks, each with a distinctive secret.
	okHook, revokedHook := fakeslack.New(t), fakeslack.New(t, fakeslack.Answer{Status: http.StatusNotFound, Body: "no_service"})
	rateHook := fakeslack.New(t, fakeslack.Answer{Status: http.StatusTooManyRequests, Headers: map[string]string{"Retry-After": "1"}}, fakeslack.Answer{})
	bot := fakeslack.New(t)
	okURL, revokedURL, rateURL := okHook.WebhookServer(), revokedHook.WebhookServer(), rateHook.WebhookServer()
	values := []string{okURL, revokedURL, rateURL, fakeslack.BotToken, fakeslack.WebhookPath}

	// The webhook comes from the environment, the others from a secrets file: secrets.Default.
	t.Setenv(secrets.EnvVar(fakeslack.WebhookName), okURL)
	file := filepath.Join(t.TempDir(), "secrets.json")
	content, err := json.Marshal(map[string]string{
		fakeslack.TokenName:           fakeslack.BotToken,
		"slack-webhook/revoked":       revokedURL,
		"slack-webhook/rate-limited":  rateURL,
		"slack-webhook/unused-in-run": "https://hooks.slack.com/services/UNUSED",
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, content, 0o600))
	t.Setenv(secrets.FileEnv, file)

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := ts.NewClientWithOptions(client.Options{Logger: log.NewStructuredLogger(logger)})

	flow := seedFlow(
		slack.FlowHook("notify-webhook", slack.Config{WebhookSecret: fakeslack.WebhookName}),
		slack.FlowHook("notify-bot", slack.Config{TokenSecret: fakeslack.TokenName, Channel: fakeslack.AlertChannel, APIURL: bot.APIServer()}),
		slack.FlowHook("notify-revoked", slack.Config{WebhookSecret: "slack-webhook/revoked"}),
		slack.FlowHook("notify-rate-limited", slack.Config{WebhookSecret: "slack-webhook/rate-limited"}, hooks.Options{
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 3},
		}),
	)
	const queue = "slack-e2e"
	w, err := worker.New(c, queue, worker.Options{
		Flows:            []adapter.AnyFlow{flow},
		Secrets:          secrets.Default(),
		SearchAttributes: worker.SearchAttributesOff,
		Namespace:        ts.GetDefaultNamespace(),
		Logger:           logger,
	})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx := t.Context()
	run, err := flow.Start(ctx, c, client.StartWorkflowOptions{ID: "seed-e2e", TaskQueue: queue}, seedInput{Name: "e2e"})
	require.NoError(t, err)
	_, err = run.Get(ctx)
	require.ErrorContains(t, err, "oops!")
	t.Logf("flow run closed %s after start", time.Since(start).Round(time.Millisecond))

	// Slack got the messages, through the real secret values.
	link := "/namespaces/" + ts.GetDefaultNamespace() + "/workflows/seed-e2e/" + run.RunID() + "/history|the flow run in the UI>"
	require.Len(t, okHook.Requests(), 1)
	require.Contains(t, okHook.Requests()[0].Webhook.Text, "Your job nightly e2e entered Failed with message:\n\noops!")
	require.Contains(t, okHook.Requests()[0].Webhook.Text, link)
	require.Len(t, bot.Requests(), 1)
	require.Equal(t, fakeslack.BotToken, bot.Requests()[0].Token)
	require.Len(t, revokedHook.Requests(), 1, "a revoked webhook is not retried")
	rate := rateHook.Requests()
	require.Len(t, rate, 2)
	gap := rate[1].At.Sub(rate[0].At)
	require.GreaterOrEqual(t, gap, time.Second, "the retry waited for Retry-After, not the 100ms backoff")
	t.Logf("rate-limited hook retried after %s", gap.Round(time.Millisecond))

	// The state history (from the memo of the closed run) records every hook call.
	h, err := run.History(ctx)
	require.NoError(t, err)
	status := map[string]hooks.HookResult{}
	for _, r := range h.Hooks() {
		status[r.Hook] = r
	}
	require.Equal(t, hooks.HookCompleted, status["notify-webhook"].Status)
	require.Equal(t, hooks.HookCompleted, status["notify-bot"].Status)
	require.Equal(t, hooks.HookCompleted, status["notify-rate-limited"].Status)
	require.Equal(t, hooks.HookFailed, status["notify-revoked"].Status)
	require.Contains(t, status["notify-revoked"].Error, `secret "slack-webhook/revoked"`)
	require.Contains(t, status["notify-revoked"].Error, "no_service")

	// The search finds a value inside a payload, where protojson shows only base64.
	var probe corpus
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"token": fakeslack.BotToken})
	require.NoError(t, err)
	probe.addMessage(t, &commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	require.Contains(t, probe.text.String(), fakeslack.BotToken)

	// The whole workflow history, every event and every payload, and the run's description.
	var all corpus
	iter := c.GetWorkflowHistory(ctx, "seed-e2e", run.RunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		events = append(events, ev)
		all.addMessage(t, ev)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "seed-e2e", run.RunID())
	require.NoError(t, err)
	all.addMessage(t, desc)
	text := all.text.String()
	t.Logf("searched %d events, %d payloads, %d bytes of history text and %d bytes of logs",
		len(events), all.payloads, len(text), len(logs.String()))

	for _, v := range values {
		require.NotContains(t, text, v, "a secret value is in the workflow history")
		require.NotContains(t, logs.String(), v, "a secret value is in the worker's log")
	}
	require.NotContains(t, text, "4f9a2c71")
	require.NotContains(t, text, "wh-7c1e0d5b")
	require.NotContains(t, logs.String(), "4f9a2c71")
	require.NotContains(t, logs.String(), "wh-7c1e0d5b")

	// The search is not vacuous: the history holds the hook calls' inputs, the flow's error, the
	// failed hook's message naming its secret, and the state history memo.
	require.Greater(t, len(events), 20)
	require.Greater(t, all.payloads, 10)
	for _, want := range []string{
		"notify-webhook", "notify-bot", "notify-revoked", "notify-rate-limited", // hook activity inputs (payloads)
		"nightly e2e", "oops!", // run name, state message
		`secret \"slack-webhook/revoked\"`,   // the failed hook's error in the memo's JSON
		`secret "slack-webhook/revoked"`,     // the same in the activity's failure
		slack.ErrorTypeWebhookRevoked,        // the failure's type
		slack.ErrorTypeRateLimited,           // the rate-limited attempt, as the retry's last failure
		"flowstate.hook", "flowstate.states", // the hook activity type and the memo key
	} {
		require.Contains(t, text, want)
	}
	for _, want := range []string{"slack-webhook/revoked", "notify-revoked", "seed-e2e"} {
		require.Contains(t, logs.String(), want)
	}
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

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
