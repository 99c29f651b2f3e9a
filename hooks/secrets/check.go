package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/flowstate/flowstate/hooks"
)

// Checker is implemented by resolvers that can tell, before any hook runs, that their source is
// broken: a secrets file that group or others can read, that is missing, or that is not a JSON
// object of names to strings. worker.New calls Check on the worker's resolver, so that such a
// mistake stops the worker at start-up with the fix in the message, instead of failing every hook
// call that asks for a secret (each retried for minutes while its run stays open).
//
// Check never reports a secret's value. A source that is sound but lacks a secret a hook will ask
// for is not an error: names are only known when hooks run.
type Checker interface {
	Check(ctx context.Context) error
}

// Check checks r when it implements Checker, and returns nil for any other resolver and for nil.
// Resolvers built with Chain and Default check each of theirs; File checks its file as Resolve
// would read it.
func Check(ctx context.Context, r hooks.SecretResolver) error {
	if c, ok := r.(Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// Check implements Checker: the file must exist, be a regular file that neither group nor others
// can read or write (the error, wrapping ErrInsecureFile, gives the chmod to run), and hold a JSON
// object whose names are valid secret names and whose values are strings (else ErrBadFile).
func (r *FileResolver) Check(context.Context) error {
	values, err := r.load()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		if CheckName(name) != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %q is not a valid secret name: use 1 to %d ASCII letters, digits, '-', '_', '/' and '.'",
				ErrBadFile, r.path, name, MaxNameLen))
			continue
		}
		var v string
		if json.Unmarshal(values[name], &v) != nil {
			errs = append(errs, fmt.Errorf("%w: %s: the value of secret %q is not a JSON string", ErrBadFile, r.path, name))
		}
	}
	return errors.Join(errs...)
}

// Check implements Checker: every resolver of the chain that is a Checker is checked, and every
// problem reported.
func (c chain) Check(ctx context.Context) error {
	var errs []error
	for _, r := range c {
		if err := Check(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
