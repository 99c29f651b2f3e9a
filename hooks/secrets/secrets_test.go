package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
)

// secretValue is distinctive so that a test can search for it in error messages.
const secretValue = "s3cr3t-VALUE-5f1d9c-never-print-me"

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"slack-webhook/my-slack-webhook", true},
		{"a", true},
		{"A.b_c-d/e9", true},
		{"", false},
		{"has space", false},
		{"emoji-\u2603", false},
		{"newline\n", false},
		{"quote\"", false},
		{strings.Repeat("x", secrets.MaxNameLen), true},
		{strings.Repeat("x", secrets.MaxNameLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := secrets.CheckName(tt.name)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, secrets.ErrInvalidName)
			require.ErrorIs(t, err, hooks.ErrUnknownSecret)
		})
	}
}

func TestEnvVar(t *testing.T) {
	tests := map[string]string{
		"slack-webhook/my-slack-webhook": "FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK",
		"db.password":                    "FLOWSTATE_SECRET_DB_PASSWORD",
		"Already_UPPER9":                 "FLOWSTATE_SECRET_ALREADY_UPPER9",
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, want, secrets.EnvVar(name))
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("FLOWSTATE_SECRET_SLACK_WEBHOOK_MY_SLACK_WEBHOOK", secretValue)
	t.Setenv("FLOWSTATE_SECRET_EMPTY", "")
	r := secrets.Env()

	v, err := r.Resolve(t.Context(), "slack-webhook/my-slack-webhook")
	require.NoError(t, err)
	require.Equal(t, secretValue, v)

	tests := []struct {
		name    string
		secret  string
		mention []string
	}{
		{"unset", "slack-webhook/other", []string{`"slack-webhook/other"`, "environment variable FLOWSTATE_SECRET_SLACK_WEBHOOK_OTHER"}},
		{"empty", "empty", []string{`"empty"`, "FLOWSTATE_SECRET_EMPTY"}},
		{"invalid", "bad name", []string{`"bad name"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Resolve(t.Context(), tt.secret)
			require.ErrorIs(t, err, hooks.ErrUnknownSecret)
			for _, m := range tt.mention {
				require.Contains(t, err.Error(), m)
			}
			require.NotContains(t, err.Error(), secretValue)
		})
	}
}

func TestEnvResolverOptions(t *testing.T) {
	r := &secrets.EnvResolver{
		Prefix: "MYAPP_",
		LookupEnv: func(key string) (string, bool) {
			if key == "MYAPP_DB_PASSWORD" {
				return secretValue, true
			}
			return "", false
		},
	}
	v, err := r.Resolve(t.Context(), "db/password")
	require.NoError(t, err)
	require.Equal(t, secretValue, v)
	require.Equal(t, "MYAPP_DB_PASSWORD", r.Var("db/password"))
}

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chmod(path, mode))
	return path
}

func TestFile(t *testing.T) {
	good := `{"slack-webhook/my-slack-webhook": "` + secretValue + `", "number": 12345678, "empty": ""}`
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		secret  string
		want    string
		is      error
		mention []string
	}{
		{name: "found", content: good, mode: 0o600, secret: "slack-webhook/my-slack-webhook", want: secretValue},
		{name: "read only owner", content: good, mode: 0o400, secret: "slack-webhook/my-slack-webhook", want: secretValue},
		{name: "unknown", content: good, mode: 0o600, secret: "nope", is: hooks.ErrUnknownSecret, mention: []string{`"nope"`, "file "}},
		{name: "empty value", content: good, mode: 0o600, secret: "empty", is: hooks.ErrUnknownSecret, mention: []string{`"empty"`}},
		{name: "not a string", content: good, mode: 0o600, secret: "number", is: secrets.ErrBadFile, mention: []string{`"number"`}},
		{name: "group readable", content: good, mode: 0o640, secret: "slack-webhook/my-slack-webhook", is: secrets.ErrInsecureFile, mention: []string{"0640", "chmod 600"}},
		{name: "world readable", content: good, mode: 0o604, secret: "slack-webhook/my-slack-webhook", is: secrets.ErrInsecureFile},
		{name: "group writable", content: good, mode: 0o620, secret: "slack-webhook/my-slack-webhook", is: secrets.ErrInsecureFile},
		{name: "syntax error", content: `{"a": "` + secretValue + `" x}`, mode: 0o600, secret: "a", is: secrets.ErrBadFile, mention: []string{"syntax error at byte"}},
		{name: "not an object", content: `["` + secretValue + `"]`, mode: 0o600, secret: "a", is: secrets.ErrBadFile},
		{name: "null", content: `null`, mode: 0o600, secret: "a", is: secrets.ErrBadFile},
		{name: "trailing data", content: `{} {"a": "` + secretValue + `"}`, mode: 0o600, secret: "a", is: secrets.ErrBadFile},
		{name: "invalid name", content: good, mode: 0o600, secret: "../x y", is: secrets.ErrInvalidName},
	}
	for _, tt := range tests {
		if runtime.GOOS == "windows" && tt.is == secrets.ErrInsecureFile {
			continue // Windows has no group or other permissions to refuse
		}
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, tt.mode)
			v, err := secrets.File(path).Resolve(t.Context(), tt.secret)
			if tt.is == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, v)
				return
			}
			require.ErrorIs(t, err, tt.is)
			require.Empty(t, v)
			require.NotContains(t, err.Error(), secretValue)
			require.NotContains(t, err.Error(), "12345678")
			for _, m := range tt.mention {
				require.Contains(t, err.Error(), m)
			}
			if tt.is != secrets.ErrInvalidName {
				require.Contains(t, err.Error(), path)
			}
		})
	}
}

func TestFileRereadsOnEveryResolve(t *testing.T) {
	path := writeFile(t, `{"k": "one"}`, 0o600)
	r := secrets.File(path)
	v, err := r.Resolve(t.Context(), "k")
	require.NoError(t, err)
	require.Equal(t, "one", v)

	require.NoError(t, os.WriteFile(path, []byte(`{"k": "two"}`), 0o600))
	v, err = r.Resolve(t.Context(), "k")
	require.NoError(t, err)
	require.Equal(t, "two", v)

	if runtime.GOOS != "windows" {
		require.NoError(t, os.Chmod(path, 0o644))
		_, err = r.Resolve(t.Context(), "k")
		require.ErrorIs(t, err, secrets.ErrInsecureFile)
	}
}

func TestFileMissingOrDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := secrets.File(filepath.Join(dir, "missing.json")).Resolve(t.Context(), "k")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NotErrorIs(t, err, hooks.ErrUnknownSecret)
	require.Contains(t, err.Error(), "missing.json")

	require.NoError(t, os.Chmod(dir, 0o700))
	_, err = secrets.File(dir).Resolve(t.Context(), "k")
	require.ErrorIs(t, err, secrets.ErrInsecureFile)
}

// failing is a resolver whose source is down.
type failing struct{}

func (failing) Resolve(context.Context, string) (string, error) {
	return "", errors.New("vault: connection refused")
}

func TestChain(t *testing.T) {
	t.Setenv("FLOWSTATE_SECRET_FROM_ENV", "env-value")
	path := writeFile(t, `{"from-env": "file-value", "from-file": "file-only"}`, 0o600)
	c := secrets.Chain(secrets.Env(), nil, secrets.File(path))

	tests := []struct {
		name   string
		chain  hooks.SecretResolver
		secret string
		want   string
		check  func(t *testing.T, err error)
	}{
		{name: "first wins", chain: c, secret: "from-env", want: "env-value"},
		{name: "falls through", chain: c, secret: "from-file", want: "file-only"},
		{name: "unknown everywhere", chain: c, secret: "slack-webhook/nowhere", check: func(t *testing.T, err error) {
			var nf *secrets.NotFoundError
			require.ErrorAs(t, err, &nf)
			require.ErrorIs(t, err, hooks.ErrUnknownSecret)
			require.Equal(t, "slack-webhook/nowhere", nf.Name)
			require.Equal(t, []string{"environment variable FLOWSTATE_SECRET_SLACK_WEBHOOK_NOWHERE", "file " + path}, nf.Looked)
			require.Equal(t, `flowstate: unknown secret "slack-webhook/nowhere" (looked in environment variable `+
				`FLOWSTATE_SECRET_SLACK_WEBHOOK_NOWHERE, file `+path+`)`, err.Error())
		}},
		{name: "broken source stops", chain: secrets.Chain(secrets.Map{}, failing{}, secrets.Map{"x": "y"}), secret: "x", check: func(t *testing.T, err error) {
			require.EqualError(t, err, "vault: connection refused")
		}},
		{name: "custom unknown error", chain: secrets.Chain(hooks.SecretResolverFunc(func(_ context.Context, name string) (string, error) {
			return "", errors.Join(hooks.ErrUnknownSecret, errors.New("vault path secret/"+name))
		})), secret: "x", check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, hooks.ErrUnknownSecret)
			require.Contains(t, err.Error(), "vault path secret/x")
		}},
		{name: "empty chain", chain: secrets.Chain(), secret: "x", check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, hooks.ErrUnknownSecret)
		}},
		{name: "invalid name", chain: c, secret: "", check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, secrets.ErrInvalidName)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.chain.Resolve(t.Context(), tt.secret)
			if tt.check == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, v)
				return
			}
			require.Empty(t, v)
			tt.check(t, err)
		})
	}
}

func TestDefault(t *testing.T) {
	path := writeFile(t, `{"only/in-file": "from-file"}`, 0o600)
	t.Setenv(secrets.FileEnv, path)
	t.Setenv("FLOWSTATE_SECRET_ONLY_IN_ENV", "from-env")
	r := secrets.Default()

	v, err := r.Resolve(t.Context(), "only/in-env")
	require.NoError(t, err)
	require.Equal(t, "from-env", v)
	v, err = r.Resolve(t.Context(), "only/in-file")
	require.NoError(t, err)
	require.Equal(t, "from-file", v)
	_, err = r.Resolve(t.Context(), "neither")
	require.ErrorIs(t, err, hooks.ErrUnknownSecret)
	require.ErrorContains(t, err, "FLOWSTATE_SECRET_NEITHER")
	require.ErrorContains(t, err, path)

	t.Setenv(secrets.FileEnv, "")
	_, err = secrets.Default().Resolve(t.Context(), "only/in-file")
	require.ErrorIs(t, err, hooks.ErrUnknownSecret)
	require.NotContains(t, err.Error(), path)
}

func TestSecretThroughHooks(t *testing.T) {
	ctx := hooks.WithSecrets(t.Context(), secrets.Map{"a": secretValue})
	v, err := hooks.Secret(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, secretValue, v)
	_, err = hooks.Secret(ctx, "b")
	require.ErrorIs(t, err, hooks.ErrUnknownSecret)
	require.Equal(t, `flowstate: unknown secret "b" (looked in the in-memory map)`, err.Error())
}
