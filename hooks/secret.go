package hooks

import (
	"context"
	"errors"
	"fmt"
)

// SecretResolver resolves a named secret to its value. It runs on the worker, when a hook runs:
// a secret's value never enters workflow inputs, history, memo or search attributes; only its
// name does. The hooks/secrets package has resolvers for environment variables and files; users
// can plug in their own (a vault, a cloud secret manager).
type SecretResolver interface {
	// Resolve returns the value of the secret called name. A secret it does not know is an error
	// wrapping ErrUnknownSecret, naming the secret and never printing any value.
	Resolve(ctx context.Context, name string) (string, error)
}

// SecretResolverFunc adapts a function to SecretResolver.
type SecretResolverFunc func(ctx context.Context, name string) (string, error)

// Resolve implements SecretResolver.
func (f SecretResolverFunc) Resolve(ctx context.Context, name string) (string, error) {
	return f(ctx, name)
}

// ErrUnknownSecret is wrapped by the error of a secret name no resolver knows.
var ErrUnknownSecret = errors.New("flowstate: unknown secret")

// ErrNoSecretResolver is the error of Secret called where the worker installed no resolver.
var ErrNoSecretResolver = errors.New("flowstate: no secret resolver on this worker")

type secretsKey struct{}

// WithSecrets returns ctx carrying r. The hook runner installs the worker's resolver this way.
func WithSecrets(ctx context.Context, r SecretResolver) context.Context {
	return context.WithValue(ctx, secretsKey{}, r)
}

// Secret resolves the secret called name with the resolver of the worker running the hook:
// Prefect's Block.load("slack-webhook/my-slack-webhook"). Call it inside the hook, never in flow
// code, so that the value stays out of workflow history.
func Secret(ctx context.Context, name string) (string, error) {
	r, _ := ctx.Value(secretsKey{}).(SecretResolver)
	if r == nil {
		return "", fmt.Errorf("%w: cannot resolve secret %q", ErrNoSecretResolver, name)
	}
	return r.Resolve(ctx, name)
}
