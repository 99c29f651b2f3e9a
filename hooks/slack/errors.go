package slack

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"

	"github.com/flowstate/flowstate/hooks"
)

// The Temporal application error types of a failed delivery. The retryable ones are retried by
// the hook's retry policy (hooks.Options.RetryPolicy, default hooks.DefaultRetryPolicy); the
// others fail the hook call at once and the failure is recorded in the run's state history.
const (
	// ErrorTypeRateLimited: Slack answered HTTP 429 (or "ratelimited"). Retryable; the next attempt
	// waits for Slack's Retry-After (the error's NextRetryDelay) instead of the policy's backoff.
	ErrorTypeRateLimited = "flowstate.SlackRateLimited"
	// ErrorTypeUnavailable: a network error, a timeout, HTTP 408 or 5xx, an answer that could not
	// be read, or a Slack error code this package does not know. Retryable with the policy's
	// backoff.
	ErrorTypeUnavailable = "flowstate.SlackUnavailable"
	// ErrorTypeAuth: the bot token is invalid, revoked, expired, of a deactivated account or
	// lacks a scope (invalid_auth, token_revoked, account_inactive, missing_scope, …). Not retried.
	ErrorTypeAuth = "flowstate.SlackAuth"
	// ErrorTypeChannel: the channel is unknown, archived, or the bot is not in it
	// (channel_not_found, not_in_channel, is_archived, …). Not retried.
	ErrorTypeChannel = "flowstate.SlackChannel"
	// ErrorTypeWebhookRevoked: the incoming webhook was revoked or removed (HTTP 403, 404 or 410;
	// no_service, invalid_token, team_disabled, …). Not retried.
	ErrorTypeWebhookRevoked = "flowstate.SlackWebhookRevoked"
	// ErrorTypeRejected: Slack refused the message itself (invalid_payload, invalid_blocks,
	// msg_too_long, another 4xx answer). Not retried.
	ErrorTypeRejected = "flowstate.SlackRejected"
	// ErrorTypeSecret: the secret is unknown to the worker's resolver, the worker has none, or
	// the value is not a URL where a webhook URL is expected. Not retried. A resolver that fails
	// otherwise (an insecure file, a vault that does not answer) gives a retryable error of this
	// type.
	ErrorTypeSecret = "flowstate.SlackSecret"
	// ErrorTypeConfig: the Config is invalid or its template failed. Not retried.
	ErrorTypeConfig = "flowstate.SlackConfig"
)

type via int

const (
	viaWebhook via = iota
	viaToken
)

// codeInfo tells what a Slack error code means for a delivery.
type codeInfo struct {
	typ  string // an ErrorType; ErrorTypeRateLimited and ErrorTypeUnavailable are retried
	what string
}

// slackCodes are the error codes of chat.postMessage and of incoming webhooks.
var slackCodes = map[string]codeInfo{
	// Incoming webhooks (https://api.slack.com/messaging/webhooks#handling_errors).
	"no_service":                        {ErrorTypeWebhookRevoked, "the webhook is disabled, removed or invalid"},
	"invalid_token":                     {ErrorTypeWebhookRevoked, "the webhook's token is invalid"},
	"no_team":                           {ErrorTypeWebhookRevoked, "the webhook's workspace no longer exists"},
	"team_disabled":                     {ErrorTypeWebhookRevoked, "the webhook's workspace is disabled"},
	"action_prohibited":                 {ErrorTypeWebhookRevoked, "an admin has restricted posting with this webhook"},
	"channel_is_archived":               {ErrorTypeChannel, "the channel is archived"},
	"posting_to_general_channel_denied": {ErrorTypeChannel, "only admins can post to the channel"},
	"invalid_payload":                   {ErrorTypeRejected, "the message is malformed"},
	"user_not_found":                    {ErrorTypeRejected, "the user is not found"},
	"rollup_error":                      {ErrorTypeUnavailable, "Slack had a transient error"},
	// Web API authentication.
	"invalid_auth":            {ErrorTypeAuth, "the token is invalid"},
	"not_authed":              {ErrorTypeAuth, "no token was sent"},
	"token_revoked":           {ErrorTypeAuth, "the token was revoked"},
	"token_expired":           {ErrorTypeAuth, "the token expired"},
	"account_inactive":        {ErrorTypeAuth, "the token's user or bot was deactivated"},
	"missing_scope":           {ErrorTypeAuth, "the token lacks the chat:write scope"},
	"not_allowed_token_type":  {ErrorTypeAuth, "the token is not a bot or user token"},
	"no_permission":           {ErrorTypeAuth, "the token has no permission to post"},
	"ekm_access_denied":       {ErrorTypeAuth, "the workspace's keys deny access"},
	"access_denied":           {ErrorTypeAuth, "access was denied"},
	"team_access_not_granted": {ErrorTypeAuth, "the token has no access to the workspace"},
	// chat.postMessage: the channel.
	"channel_not_found":                        {ErrorTypeChannel, "the channel does not exist or the bot cannot see it"},
	"not_in_channel":                           {ErrorTypeChannel, "the bot is not a member of the channel"},
	"is_archived":                              {ErrorTypeChannel, "the channel is archived"},
	"restricted_action":                        {ErrorTypeChannel, "the workspace restricts posting to the channel"},
	"restricted_action_read_only_channel":      {ErrorTypeChannel, "the channel is read-only"},
	"restricted_action_thread_only_channel":    {ErrorTypeChannel, "the channel takes thread replies only"},
	"restricted_action_non_threadable_channel": {ErrorTypeChannel, "the channel does not take threads"},
	// chat.postMessage: the message.
	"msg_too_long":          {ErrorTypeRejected, "the message is too long"},
	"no_text":               {ErrorTypeRejected, "the message has no text"},
	"invalid_blocks":        {ErrorTypeRejected, "the message's blocks are invalid"},
	"invalid_blocks_format": {ErrorTypeRejected, "the message's blocks are malformed"},
	"invalid_attachments":   {ErrorTypeRejected, "the message's attachments are invalid"},
	"too_many_attachments":  {ErrorTypeRejected, "the message has too many attachments"},
	"invalid_arguments":     {ErrorTypeRejected, "the request's arguments are invalid"},
	"invalid_arg_name":      {ErrorTypeRejected, "the request has an invalid argument name"},
	"invalid_array_arg":     {ErrorTypeRejected, "the request has an invalid array argument"},
	"invalid_charset":       {ErrorTypeRejected, "the request's charset is invalid"},
	"invalid_form_data":     {ErrorTypeRejected, "the request's form data is invalid"},
	"invalid_post_type":     {ErrorTypeRejected, "the request's content type is invalid"},
	"missing_post_type":     {ErrorTypeRejected, "the request has no content type"},
	"unknown_method":        {ErrorTypeRejected, "the API URL does not serve chat.postMessage"},
	"method_deprecated":     {ErrorTypeRejected, "chat.postMessage is deprecated at this API URL"},
	"deprecated_endpoint":   {ErrorTypeRejected, "the endpoint is deprecated"},
	"as_user_not_supported": {ErrorTypeRejected, "as_user is not supported"},
	"metadata_too_large":    {ErrorTypeRejected, "the message's metadata is too large"},
	// Transient.
	"ratelimited":         {ErrorTypeRateLimited, "Slack rate-limited the request"},
	"rate_limited":        {ErrorTypeRateLimited, "Slack rate-limited the request"},
	"internal_error":      {ErrorTypeUnavailable, "Slack had an internal error"},
	"fatal_error":         {ErrorTypeUnavailable, "Slack had a fatal error"},
	"service_unavailable": {ErrorTypeUnavailable, "Slack is unavailable"},
	"request_timeout":     {ErrorTypeUnavailable, "Slack timed out"},
	"team_added_to_org":   {ErrorTypeUnavailable, "the workspace is moving into an organisation"},
}

// errorf builds a delivery's errors. Every message passes through clean, which replaces the
// secret's value, should it appear, with the secret's name.
type errorf struct {
	hook        string
	secretName  string
	secretValue string
}

func (e errorf) prefix() string {
	if e.hook == "" {
		return "flowstate: slack: "
	}
	return fmt.Sprintf("flowstate: slack hook %q: ", e.hook)
}

func (e errorf) msg(format string, args ...any) string {
	return e.clean(e.prefix() + fmt.Sprintf(format, args...))
}

func (e errorf) permanent(typ, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(e.msg(format, args...), typ, nil)
}

func (e errorf) retryable(typ string, delay time.Duration, format string, args ...any) error {
	return temporal.NewApplicationErrorWithOptions(e.msg(format, args...), typ,
		temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// clean replaces every form of the secret's value in s with [secret "name"].
func (e errorf) clean(s string) string {
	if e.secretValue == "" {
		return s
	}
	forms := []string{e.secretValue, url.PathEscape(e.secretValue), url.QueryEscape(e.secretValue)}
	if u, err := url.Parse(e.secretValue); err == nil {
		forms = append(forms, u.String(), u.Path, u.EscapedPath(), u.RawQuery)
		if u.User != nil {
			forms = append(forms, u.User.String())
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	repl := fmt.Sprintf("[secret %q]", e.secretName)
	for _, f := range forms {
		if len(f) >= 6 || f == e.secretValue && f != "" {
			s = strings.ReplaceAll(s, f, repl)
		}
	}
	return s
}

// secret maps a resolver's error.
func (e errorf) secret(name string, err error) error {
	switch {
	case errors.Is(err, hooks.ErrUnknownSecret):
		return e.permanent(ErrorTypeSecret, "cannot resolve secret %q: %v; not retrying: provide the secret to the worker's resolver "+
			"(worker.Options.Secrets)", name, err)
	case errors.Is(err, hooks.ErrNoSecretResolver):
		return e.permanent(ErrorTypeSecret, "cannot resolve secret %q: this worker has no secret resolver; not retrying: "+
			"set worker.Options.Secrets, for example to secrets.Default()", name)
	}
	return e.retryable(ErrorTypeSecret, 0, "cannot resolve secret %q: %v; retrying", name, err)
}

// delivery maps slack-go's error and the answer the transport saw onto a Temporal error.
func (e errorf) delivery(v via, cfg Config, err error, a *answer) error {
	if err == nil {
		return nil
	}
	dest := fmt.Sprintf("the incoming webhook in secret %q", e.secretName)
	if v == viaToken {
		dest = fmt.Sprintf("channel %q with the bot token in secret %q", cfg.Channel, e.secretName)
	}

	var rl *slackapi.RateLimitedError
	var sc slackapi.StatusCodeError
	var se slackapi.SlackErrorResponse
	var ue *url.Error
	switch {
	case errors.As(err, &rl) || a.status == http.StatusTooManyRequests:
		delay := retryAfter(a.retryAfter, time.Now())
		if rl != nil && rl.RetryAfter > 0 {
			delay = rl.RetryAfter
		}
		if delay > 0 {
			return e.retryable(ErrorTypeRateLimited, delay, "Slack rate-limited posting to %s (HTTP 429, Retry-After %s); retrying after %s", dest, delay, delay)
		}
		return e.retryable(ErrorTypeRateLimited, 0, "Slack rate-limited posting to %s (HTTP 429); retrying", dest)
	case errors.As(err, &sc):
		return e.status(v, dest, sc.Code, a.code)
	case errors.As(err, &se):
		return e.code(v, dest, se.Err)
	case errors.As(err, &ue):
		// ue.Error() quotes the URL, which is the secret for a webhook: keep the cause only.
		return e.retryable(ErrorTypeUnavailable, 0, "posting to %s failed: %v; retrying", dest, ue.Err)
	case a.status == http.StatusOK:
		return e.retryable(ErrorTypeUnavailable, 0, "Slack's answer to posting to %s could not be read: %v; retrying", dest, err)
	}
	return e.retryable(ErrorTypeUnavailable, 0, "posting to %s failed: %v; retrying", dest, err)
}

// status maps a non-200 answer.
func (e errorf) status(v via, dest string, status int, code string) error {
	answered := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if code != "" {
		answered += ", " + code
	}
	if info, ok := slackCodes[code]; ok {
		return e.byType(info.typ, v, dest, answered, info.what)
	}
	switch {
	case status == http.StatusRequestTimeout || status >= 500:
		return e.retryable(ErrorTypeUnavailable, 0, "Slack answered %s to posting to %s; retrying", answered, dest)
	case v == viaWebhook && (status == http.StatusForbidden || status == http.StatusNotFound || status == http.StatusGone):
		return e.byType(ErrorTypeWebhookRevoked, v, dest, answered, "")
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return e.byType(ErrorTypeAuth, v, dest, answered, "Slack refused the credentials")
	case status >= 400:
		what := "Slack refused the request"
		if v == viaToken && (status == http.StatusNotFound || status == http.StatusGone) {
			what = "check Config.APIURL"
		}
		return e.byType(ErrorTypeRejected, v, dest, answered, what)
	}
	return e.retryable(ErrorTypeUnavailable, 0, "Slack answered %s to posting to %s; retrying", answered, dest)
}

// code maps the error code of a Web API answer with "ok": false.
func (e errorf) code(v via, dest, code string) error {
	shown := code
	if !codePattern.MatchString(code) {
		shown = "an unexpected error"
	}
	if info, ok := slackCodes[code]; ok {
		return e.byType(info.typ, v, dest, shown, info.what)
	}
	return e.retryable(ErrorTypeUnavailable, 0, "Slack answered %s to posting to %s; retrying", shown, dest)
}

func (e errorf) byType(typ string, v via, dest, answered, what string) error {
	if what != "" {
		answered += " (" + what + ")"
	}
	switch typ {
	case ErrorTypeRateLimited, ErrorTypeUnavailable:
		return e.retryable(typ, 0, "Slack answered %s to posting to %s; retrying", answered, dest)
	case ErrorTypeWebhookRevoked:
		return e.permanent(typ, "%s was revoked or removed: Slack answered %s; not retrying: "+
			"create a new incoming webhook and store its URL in secret %q", dest, answered, e.secretName)
	case ErrorTypeAuth:
		fix := fmt.Sprintf("store a valid bot token with the chat:write scope in secret %q", e.secretName)
		if v == viaWebhook {
			fix = fmt.Sprintf("create a new incoming webhook and store its URL in secret %q", e.secretName)
		}
		return e.permanent(typ, "Slack refused the credentials for posting to %s: %s; not retrying: %s", dest, answered, fix)
	case ErrorTypeChannel:
		fix := "invite the bot to the channel, or fix Config.Channel"
		if v == viaWebhook {
			fix = fmt.Sprintf("restore the channel, or store the URL of a webhook for another channel in secret %q", e.secretName)
		}
		return e.permanent(typ, "cannot post to %s: %s; not retrying: %s", dest, answered, fix)
	}
	return e.permanent(ErrorTypeRejected, "Slack rejected the message to %s: %s; not retrying", dest, answered)
}
