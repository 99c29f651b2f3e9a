package slack

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"unicode"
)

// DefaultUIBaseURL is the Temporal Web UI the message links to when Config.UIBaseURL is empty: the
// UI of `temporal server start-dev`.
const DefaultUIBaseURL = "http://localhost:8233"

// DefaultNamespace is the namespace of the link when neither the run nor the hook call tells it.
const DefaultNamespace = "default"

// Config configures a Slack hook. It lives in the worker's code: the secrets it names are
// resolved on the worker when the hook runs, and nothing here enters workflow history.
//
// Set WebhookSecret to post through an incoming webhook, or TokenSecret and Channel to post as a
// bot with chat.postMessage; not both.
type Config struct {
	// WebhookSecret is the name of the secret holding a Slack incoming-webhook URL
	// (https://hooks.slack.com/services/…), as "slack-webhook/my-slack-webhook".
	// default: none
	WebhookSecret string
	// TokenSecret is the name of the secret holding a bot token (xoxb-…) with the chat:write
	// scope. The message is posted to Channel with chat.postMessage.
	// default: none
	TokenSecret string
	// Channel is the channel chat.postMessage posts to: an ID (C0123456789) or a name (#alerts).
	// Required with TokenSecret; an incoming webhook posts to its own channel and needs none.
	// default: none
	Channel string

	// UIBaseURL is the Temporal Web UI's address. The message links to
	// <UIBaseURL>/namespaces/<namespace>/workflows/<workflow ID>/<run ID>/history.
	// default: DefaultUIBaseURL (http://localhost:8233)
	UIBaseURL string
	// Namespace is the namespace of the link when the run does not tell it. Flow and task runs
	// carry their namespace; failing that, the hook uses the namespace of the workflow that
	// scheduled the hook call, which is the run's.
	// default: the run's namespace, else the hook call's workflow namespace, else "default"
	Namespace string

	// Template is a Go text/template for the message text, executed with a Data. Every value in
	// Data that comes from users is already escaped for Slack mrkdwn; the template's own text is
	// not escaped, so it may use Slack syntax (<!here>, <url|text>). A message with a Template
	// is sent as text only, without the default Block Kit layout.
	// default: DefaultTemplate, with Block Kit blocks in a coloured attachment
	Template string

	// APIURL is the Slack Web API's base URL, for chat.postMessage: a slacktest server in tests.
	// default: https://slack.com/api/ (slack-go's default)
	APIURL string
	// HTTPClient sends the requests. Its Transport is wrapped to read Slack's short error code
	// from failed answers.
	// default: a client with a 30 second timeout
	HTTPClient *http.Client
}

// ErrInvalidConfig is wrapped by the error of a Config that cannot work.
var ErrInvalidConfig = errors.New("flowstate: invalid Slack hook config")

// Validate reports what is wrong with c, wrapping ErrInvalidConfig: no destination or two, a
// token without a channel, a template that does not parse, a UI base URL that is not an absolute
// http(s) URL. A hook built from an invalid Config fails each call with this error, without
// retrying.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.WebhookSecret == "" && c.TokenSecret == "":
		errs = append(errs, errors.New("set WebhookSecret, or TokenSecret and Channel"))
	case c.WebhookSecret != "" && c.TokenSecret != "":
		errs = append(errs, errors.New("set WebhookSecret or TokenSecret, not both"))
	case c.TokenSecret != "" && c.Channel == "":
		errs = append(errs, errors.New("TokenSecret needs a Channel"))
	}
	for _, f := range [...]struct{ field, name string }{{"WebhookSecret", c.WebhookSecret}, {"TokenSecret", c.TokenSecret}} {
		if f.name != "" && (strings.TrimSpace(f.name) != f.name || strings.IndexFunc(f.name, unicode.IsControl) >= 0) {
			errs = append(errs, fmt.Errorf("%s %q has spaces around it or control characters", f.field, f.name))
		}
	}
	if c.UIBaseURL != "" {
		u, err := url.Parse(c.UIBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("UIBaseURL %q is not an absolute http or https URL", c.UIBaseURL))
		}
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("APIURL %q is not an absolute http or https URL", c.APIURL))
		}
	}
	if c.Template != "" {
		if _, err := parseTemplate(c.Template); err != nil {
			errs = append(errs, fmt.Errorf("Template: %v", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (c Config) uiBaseURL() string {
	if c.UIBaseURL == "" {
		return DefaultUIBaseURL
	}
	return strings.TrimRight(c.UIBaseURL, "/")
}

func (c Config) apiURL() string {
	if c.APIURL == "" {
		return ""
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		return c.APIURL + "/"
	}
	return c.APIURL
}

// secretName is the name of the secret the config delivers with.
func (c Config) secretName() string {
	if c.WebhookSecret != "" {
		return c.WebhookSecret
	}
	return c.TokenSecret
}

func parseTemplate(text string) (*template.Template, error) {
	return template.New("slack").Funcs(templateFuncs).Option("missingkey=error").Parse(text)
}
