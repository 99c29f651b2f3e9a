// Package slack is flowstate's built-in Slack notification hook, built on
// github.com/slack-go/slack: Prefect's "send a notification when a flow run fails" example as a
// durable Temporal activity.
//
//	notify := slack.FlowHook("notify-slack", slack.Config{
//		WebhookSecret: "slack-webhook/my-slack-webhook",
//		UIBaseURL:     "https://temporal.example.com",
//	})
//	flow := adapter.NewFlow("failing-flow", body, adapter.FlowOptions{
//		Retries:   1,
//		OnFailure: []hooks.FlowHook{notify},
//	})
//	w, err := worker.New(c, "queue", worker.Options{
//		Flows:   []adapter.AnyFlow{flow},
//		Secrets: secrets.Default(), // FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK=https://hooks.slack.com/…
//	})
//
// FlowHook and TaskHook make a hook for flows and for tasks; either can be attached to any event.
//
// # Secrets stay on the worker
//
// A Config names secrets; it never holds their values. The hook resolves the name when it runs,
// on the worker, with the worker's resolver (worker.Options.Secrets; see package hooks/secrets
// for environment variables and files): Prefect's Block.load("slack-webhook/my-slack-webhook").
// Only the hook's name, the event, the run's description and the state travel in workflow
// history as the hook activity's input; the Config lives in the worker's code. No error this
// package returns holds the webhook URL or the token (it names the secret instead), and the
// package logs nothing.
//
// Deliver either through an incoming webhook (Config.WebhookSecret: the secret holds the
// webhook's URL) or as a bot with chat.postMessage (Config.TokenSecret, a bot token with
// chat:write, and Config.Channel).
//
// # The message
//
// The default text is Prefect's seed message with the state's message filled in:
//
//	Your job <run name> entered <state name> with message:
//
//	<state message>
//
//	See <link|the flow run in the UI>
//
//	Tags: <tags>
//
//	Scheduled start: <expected start time, RFC 3339 UTC>
//
// The link goes to the run in the Temporal Web UI,
// <UIBaseURL>/namespaces/<namespace>/workflows/<workflow ID>/<run ID>/history (see RunURL), for a
// task hook to the task's flow run. With the default text the message also has Block Kit blocks:
// a top-level section that says which run entered which state, and one attachment whose colour
// bar tells the state (StateColor: green Completed, red Failed, orange Crashed, blue Running, grey
// Cancelling and Cancelled, yellow otherwise) holding the state's message, the run's details
// and the link. Slack shows the blocks and uses the text for notifications. Config.Template
// replaces the text with a Go text/template executed with a Data; such a message is sent as text
// only.
//
// Every value that comes from users (run and task names, state messages, tags, parameters, run
// data) is escaped for Slack mrkdwn (Escape: & < >), so that a run named "<!channel>" cannot
// notify a channel and a message cannot forge a link. Messages are sent without link_names and
// with unfurling off, so a plain "@channel" stays text.
//
// # Retries
//
// The hook returns an error and the hook activity's retry policy (hooks.Options.RetryPolicy,
// default hooks.DefaultRetryPolicy: ten attempts over about four minutes) decides what happens:
//
//   - HTTP 429: retried after Slack's Retry-After (a retryable error of type
//     ErrorTypeRateLimited whose NextRetryDelay is the Retry-After), or with the policy's backoff
//     when Slack gives none.
//   - Network errors, timeouts, HTTP 408 and 5xx, unreadable answers and Slack error codes not
//     listed here: retried with the policy's backoff (ErrorTypeUnavailable).
//   - An invalid, revoked or expired token or a deactivated account (invalid_auth,
//     token_revoked, token_expired, account_inactive, missing_scope, …): not retried
//     (ErrorTypeAuth).
//   - An unknown or archived channel, or a bot that is not in it (channel_not_found,
//     not_in_channel, is_archived, …): not retried (ErrorTypeChannel).
//   - A revoked or removed webhook (HTTP 403, 404, 410; no_service, invalid_token,
//     team_disabled, …): not retried (ErrorTypeWebhookRevoked).
//   - A message Slack refuses (invalid_payload, invalid_blocks, another 4xx): not retried
//     (ErrorTypeRejected).
//   - A secret the worker cannot find, or no resolver on the worker: not retried
//     (ErrorTypeSecret). A resolver that fails otherwise is retried.
//
// A call that still fails is recorded in the run's state history with its message, which names
// the hook and the secret, and does not change the run's state. Slack has no idempotency key
// for messages: a hook call whose worker died after Slack accepted the message but before the
// activity completed posts it again.
package slack
