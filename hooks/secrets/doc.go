// Package secrets has resolvers for flowstate's named secrets: the counterpart of Prefect's
// Block.load("slack-webhook/my-slack-webhook").
//
// # The rules
//
//   - A hook is configured with a secret's name, in the worker's code. The worker resolves the
//     name to its value when the hook runs, with the resolver given in worker.Options.Secrets,
//     through hooks.Secret(ctx, name). The value never enters workflow inputs, history, memo,
//     search attributes or logs; only the name may appear there, for example in the error of a
//     hook that could not find its secret.
//   - No resolver in this package logs anything, and no error it returns holds a value: errors
//     name the secret and where the resolver looked (an environment variable's name, a file's
//     path).
//   - A name no resolver knows is an error wrapping hooks.ErrUnknownSecret (a *NotFoundError from
//     the resolvers here). Hooks treat it as permanent: the hook call fails without retrying and
//     the failure, naming the secret, is recorded in the run's state history.
//
// # Names
//
// A secret name is 1 to 256 ASCII letters, digits, '-', '_', '/' and '.', so that Prefect-style
// block names such as "slack-webhook/my-slack-webhook" work unchanged. See CheckName.
//
// # Where values come from
//
// Env reads environment variables: the secret "slack-webhook/my-slack-webhook" is the variable
// FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK, the prefix followed by the name in upper case
// with every character other than a letter or a digit replaced by '_' (see EnvVar). Two names that
// differ only in case or punctuation map to one variable. An empty variable counts as unset.
//
// File reads a JSON file holding one object of names to string values:
//
//	{
//	  "slack-webhook/my-slack-webhook": "https://hooks.slack.com/services/…",
//	  "slack-token/alerts-bot": "xoxb-…"
//	}
//
// The file is read again on every Resolve, so an edited or rotated file takes effect at the next
// hook call without restarting the worker. It must be a regular file that neither group nor others
// can read or write (chmod 600): File refuses any other with an error wrapping ErrInsecureFile.
//
// Chain tries resolvers in order; Default is Env followed by the file named by the
// FLOWSTATE_SECRETS_FILE environment variable, when it is set. Map holds values in memory, for
// tests. Any hooks.SecretResolver can take part, such as one that reads a vault.
//
// # Checked at start-up
//
// A resolver may implement Checker; File does, and so do Chain and Default for theirs. worker.New
// calls Check, so a secrets file with mode 0644, a missing one or one that is not valid JSON stops
// the worker at start-up, with the fix in the message, rather than failing every hook call that
// asks for a secret.
package secrets
