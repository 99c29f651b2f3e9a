package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flowstate/flowstate/hooks"
)

// Environment variables the resolvers read.
const (
	// EnvPrefix starts the name of the environment variable that holds a secret (see EnvVar).
	EnvPrefix = "FLOWSTATE_SECRET_"
	// FileEnv names the secrets file Default reads after the environment.
	FileEnv = "FLOWSTATE_SECRETS_FILE"
)

// MaxNameLen is the longest secret name.
const MaxNameLen = 256

// ErrInvalidName is wrapped by the error of a secret name that breaks the naming rules. The error
// also wraps hooks.ErrUnknownSecret: no resolver can know such a name.
var ErrInvalidName = errors.New("flowstate: invalid secret name")

// CheckName reports whether name is a valid secret name: 1 to MaxNameLen ASCII letters, digits,
// '-', '_', '/' and '.'. The error wraps ErrInvalidName and hooks.ErrUnknownSecret.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: %w: the name is empty", hooks.ErrUnknownSecret, ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %w: %q is longer than %d characters", hooks.ErrUnknownSecret, ErrInvalidName, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return fmt.Errorf("%w: %w: %q has %q at byte %d; use ASCII letters, digits, '-', '_', '/' and '.'",
				hooks.ErrUnknownSecret, ErrInvalidName, name, name[i], i)
		}
	}
	return nil
}

func nameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '/' || c == '.'
}

// EnvVar returns the environment variable Env reads for the secret called name, with the default
// prefix: EnvPrefix followed by the name in upper case, every character other than a letter or a
// digit replaced by '_'.
//
//	EnvVar("slack-webhook/my-slack-webhook") == "FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK"
func EnvVar(name string) string { return envVar(EnvPrefix, name) }

func envVar(prefix, name string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(name))
	b.WriteString(prefix)
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// NotFoundError reports a secret that a resolver does not know. It names the secret and where the
// resolver looked, never a value.
type NotFoundError struct {
	// Name is the secret's name.
	Name string
	// Looked says where the resolvers looked, one place an element, for example
	// "environment variable FLOWSTATE_SECRET_X" or "file /etc/flowstate/secrets.json".
	Looked []string
}

func (e *NotFoundError) Error() string {
	if len(e.Looked) == 0 {
		return fmt.Sprintf("flowstate: unknown secret %q", e.Name)
	}
	return fmt.Sprintf("flowstate: unknown secret %q (looked in %s)", e.Name, strings.Join(e.Looked, ", "))
}

// Unwrap returns hooks.ErrUnknownSecret.
func (e *NotFoundError) Unwrap() error { return hooks.ErrUnknownSecret }

// EnvResolver resolves secrets from environment variables (see EnvVar). The zero value reads the
// process environment with EnvPrefix.
type EnvResolver struct {
	// Prefix starts every variable name.
	// default: EnvPrefix ("FLOWSTATE_SECRET_")
	Prefix string
	// LookupEnv reads a variable.
	// default: os.LookupEnv
	LookupEnv func(key string) (string, bool)
}

// Env returns a resolver that reads the process environment: the secret
// "slack-webhook/my-slack-webhook" is FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK.
func Env() *EnvResolver { return &EnvResolver{} }

// Var returns the variable r reads for the secret called name.
func (r *EnvResolver) Var(name string) string {
	prefix := r.Prefix
	if prefix == "" {
		prefix = EnvPrefix
	}
	return envVar(prefix, name)
}

// Resolve implements hooks.SecretResolver. A variable that is unset or empty is a *NotFoundError
// naming the variable.
func (r *EnvResolver) Resolve(_ context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	lookup := r.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	key := r.Var(name)
	if v, ok := lookup(key); ok && v != "" {
		return v, nil
	}
	return "", &NotFoundError{Name: name, Looked: []string{"environment variable " + key}}
}

// Map is a resolver holding values in memory, for tests and for values a program already has.
type Map map[string]string

// Resolve implements hooks.SecretResolver.
func (m Map) Resolve(_ context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", &NotFoundError{Name: name, Looked: []string{"the in-memory map"}}
}

// Chain returns a resolver that asks each of rs in order and returns the first value found. A
// resolver that does not know the name (an error wrapping hooks.ErrUnknownSecret) passes to the
// next; when none knows it, the error is a *NotFoundError listing every place looked. Any other
// error (an insecure or unreadable file, a vault that does not answer) ends the search and is
// returned, so that a broken source is never hidden behind a later one. Nil resolvers are skipped.
func Chain(rs ...hooks.SecretResolver) hooks.SecretResolver {
	list := make([]hooks.SecretResolver, 0, len(rs))
	for _, r := range rs {
		if r != nil {
			list = append(list, r)
		}
	}
	return chain(list)
}

type chain []hooks.SecretResolver

func (c chain) Resolve(ctx context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	nf := &NotFoundError{Name: name}
	for _, r := range c {
		v, err := r.Resolve(ctx, name)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, hooks.ErrUnknownSecret) {
			return "", err
		}
		var e *NotFoundError
		if errors.As(err, &e) {
			nf.Looked = append(nf.Looked, e.Looked...)
		} else {
			nf.Looked = append(nf.Looked, err.Error())
		}
	}
	return "", nf
}

// Default returns the resolver a worker should use unless it has its own: Env, then the file
// named by FLOWSTATE_SECRETS_FILE (read when Default is called) if that variable is set.
func Default() hooks.SecretResolver {
	rs := []hooks.SecretResolver{Env()}
	if path := os.Getenv(FileEnv); path != "" {
		rs = append(rs, File(path))
	}
	return Chain(rs...)
}
