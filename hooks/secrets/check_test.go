package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
)

func TestCheck(t *testing.T) {
	good := `{"slack-webhook/my-slack-webhook": "` + secretValue + `"}`
	tests := []struct {
		name    string
		content string // the secrets file, "" for none
		mode    os.FileMode
		is      error // nil: the check passes
		mention []string
	}{
		{name: "sound file", content: good, mode: 0o600},
		{name: "owner read only", content: good, mode: 0o400},
		{name: "empty object", content: `{}`, mode: 0o600},
		{name: "world readable", content: good, mode: 0o644, is: secrets.ErrInsecureFile,
			mention: []string{"has mode 0644", "group and others must have no access to it", "chmod 600 "}},
		{name: "group readable", content: good, mode: 0o640, is: secrets.ErrInsecureFile, mention: []string{"chmod 600 "}},
		{name: "syntax error", content: `{"a": "` + secretValue + `",}`, mode: 0o600, is: secrets.ErrBadFile,
			mention: []string{"syntax error at byte"}},
		{name: "value not a string", content: `{"a": "x", "port": 12345678}`, mode: 0o600, is: secrets.ErrBadFile,
			mention: []string{`the value of secret "port" is not a JSON string`}},
		{name: "invalid name", content: `{"bad name": "` + secretValue + `"}`, mode: 0o600, is: secrets.ErrBadFile,
			mention: []string{`"bad name" is not a valid secret name`}},
	}
	for _, tt := range tests {
		if runtime.GOOS == "windows" && tt.is == secrets.ErrInsecureFile {
			continue // Windows has no group or other permissions to refuse
		}
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, tt.mode)
			for _, r := range []hooks.SecretResolver{
				secrets.File(path),
				secrets.Chain(secrets.Env(), secrets.File(path)),
			} {
				err := secrets.Check(t.Context(), r)
				if tt.is == nil {
					require.NoError(t, err)
					continue
				}
				require.ErrorIs(t, err, tt.is)
				require.NotErrorIs(t, err, hooks.ErrUnknownSecret, "a broken source is not an unknown secret")
				require.Contains(t, err.Error(), path)
				for _, m := range tt.mention {
					require.Contains(t, err.Error(), m)
				}
				require.NotContains(t, err.Error(), secretValue)
				require.NotContains(t, err.Error(), "12345678")
			}
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.json")
	err := secrets.Check(t.Context(), secrets.File(path))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), path)
}

// Default checks the file FLOWSTATE_SECRETS_FILE names, and nothing when it names none.
func TestCheckDefault(t *testing.T) {
	t.Setenv(secrets.FileEnv, "")
	require.NoError(t, secrets.Check(t.Context(), secrets.Default()))

	path := writeFile(t, `{"a": "b"}`, 0o600)
	t.Setenv(secrets.FileEnv, path)
	require.NoError(t, secrets.Check(t.Context(), secrets.Default()))

	if runtime.GOOS != "windows" {
		require.NoError(t, os.Chmod(path, 0o644))
		err := secrets.Check(t.Context(), secrets.Default())
		require.ErrorIs(t, err, secrets.ErrInsecureFile)
		require.ErrorContains(t, err, "chmod 600 "+path)
	}
}

// Resolvers with nothing to check pass, and a chain reports every broken source.
func TestCheckOthers(t *testing.T) {
	for name, r := range map[string]hooks.SecretResolver{
		"nil":  nil,
		"env":  secrets.Env(),
		"map":  secrets.Map{"a": "b"},
		"func": hooks.SecretResolverFunc(func(context.Context, string) (string, error) { return "", nil }),
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, secrets.Check(t.Context(), r))
		})
	}

	missing := filepath.Join(t.TempDir(), "missing.json")
	bad := writeFile(t, `[]`, 0o600)
	err := secrets.Check(t.Context(), secrets.Chain(secrets.File(missing), secrets.Env(), secrets.File(bad)))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorIs(t, err, secrets.ErrBadFile)
	require.ErrorContains(t, err, missing)
	require.ErrorContains(t, err, bad)
}
