package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/flowstate/flowstate/hooks"
)

// defaultTimeout bounds one request when Config.HTTPClient is nil. The hook's activity has its
// own start-to-close timeout too.
const defaultTimeout = 30 * time.Second

// Send posts msg as cfg says: to the incoming webhook whose URL is in the secret
// cfg.WebhookSecret, or with the bot token in cfg.TokenSecret to cfg.Channel. It resolves the
// secret with the resolver of the worker running the hook (hooks.Secret), so call it inside a
// hook. It returns nil once Slack accepted the message, else a Temporal application error whose
// retryability follows Slack's answer (see the package documentation). No error holds the
// secret's value.
func Send(ctx context.Context, cfg Config, msg Message) error {
	return send(ctx, cfg, msg, "")
}

func send(ctx context.Context, cfg Config, msg Message, hook string) error {
	e := errorf{hook: hook}
	if err := cfg.Validate(); err != nil {
		return e.permanent(ErrorTypeConfig, "%v", err)
	}
	name := cfg.secretName()
	value, err := hooks.Secret(ctx, name)
	if err != nil {
		return e.secret(name, err)
	}
	e.secretName, e.secretValue = name, value

	a := &answer{}
	ctx = context.WithValue(ctx, answerKey{}, a)
	client := httpClient(cfg.HTTPClient)
	if cfg.WebhookSecret != "" {
		u, perr := url.Parse(value)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return e.permanent(ErrorTypeSecret, "secret %q does not hold an http(s) incoming-webhook URL; not retrying: store the webhook's URL in it", name)
		}
		noUnfurl := false
		wm := &slackapi.WebhookMessage{Text: msg.Text, Attachments: msg.Attachments, UnfurlLinks: &noUnfurl, UnfurlMedia: &noUnfurl}
		if len(msg.Blocks) > 0 {
			wm.Blocks = &slackapi.Blocks{BlockSet: msg.Blocks}
		}
		err = slackapi.PostWebhookCustomHTTPContext(ctx, value, client, wm)
		return e.delivery(viaWebhook, cfg, err, a)
	}

	opts := []slackapi.Option{slackapi.OptionHTTPClient(client)}
	if api := cfg.apiURL(); api != "" {
		opts = append(opts, slackapi.OptionAPIURL(api))
	}
	mopts := []slackapi.MsgOption{slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionDisableLinkUnfurl()}
	if len(msg.Blocks) > 0 {
		mopts = append(mopts, slackapi.MsgOptionBlocks(msg.Blocks...))
	}
	if len(msg.Attachments) > 0 {
		mopts = append(mopts, slackapi.MsgOptionAttachments(msg.Attachments...))
	}
	_, _, err = slackapi.New(value, opts...).PostMessageContext(ctx, cfg.Channel, mopts...)
	return e.delivery(viaToken, cfg, err, a)
}

func httpClient(c *http.Client) *http.Client {
	var cl http.Client
	if c != nil {
		cl = *c
	} else {
		cl.Timeout = defaultTimeout
	}
	base := cl.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cl.Transport = captureTransport{base: base}
	return &cl
}

// answer is what the transport saw of Slack's last answer to one delivery.
type answer struct {
	status     int
	retryAfter string
	// code is Slack's short error code ("no_service", "invalid_token") from a failed answer's
	// body, when the body is one. slack-go discards webhook answers' bodies.
	code string
}

type answerKey struct{}

// captureTransport records Slack's answer in the request context's *answer.
type captureTransport struct{ base http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	a, _ := req.Context().Value(answerKey{}).(*answer)
	if err != nil || a == nil {
		return resp, err
	}
	a.status, a.retryAfter, a.code = resp.StatusCode, resp.Header.Get("Retry-After"), ""
	if resp.StatusCode != http.StatusOK {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(head), resp.Body), Closer: resp.Body}
		a.code = slackCode(head)
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// slackCode returns the error code in a failed answer's body: a bare word (incoming webhooks) or
// the "error" of a JSON object (the Web API). Anything else, such as a proxy's error page that
// may echo the request's path, is ignored.
func slackCode(body []byte) string {
	body = bytes.TrimSpace(body)
	code := string(body)
	if bytes.HasPrefix(body, []byte("{")) {
		var v struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &v) != nil {
			return ""
		}
		code = v.Error
	}
	if codePattern.MatchString(code) {
		return code
	}
	return ""
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 32); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}
