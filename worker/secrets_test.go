package worker_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// New refuses a secrets file that others can read, before it registers anything or talks to the
// server: the error gives the chmod that fixes it.
func TestNewChecksSecrets(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"}) // never dialled
	require.NoError(t, err)
	defer c.Close()
	path := filepath.Join(t.TempDir(), "secrets.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"slack-webhook/alerts": "https://hooks.slack.com/services/T/B/X"}`), 0o600))
	opts := worker.Options{Secrets: secrets.Chain(secrets.Env(), secrets.File(path)), SearchAttributes: worker.SearchAttributesOff}

	w, err := worker.New(c, "q", opts)
	require.NoError(t, err)
	require.NotNil(t, w)

	if runtime.GOOS != "windows" { // Windows has no group or other permissions to refuse
		require.NoError(t, os.Chmod(path, 0o644))
		_, err = worker.New(c, "q", opts)
		require.ErrorIs(t, err, secrets.ErrInsecureFile)
		require.ErrorContains(t, err, "chmod 600 "+path)
	}

	require.NoError(t, os.WriteFile(path, []byte(`{"slack-webhook/alerts": 42}`), 0o600))
	require.NoError(t, os.Chmod(path, 0o600))
	_, err = worker.New(c, "q", opts)
	require.ErrorIs(t, err, secrets.ErrBadFile)
	require.ErrorContains(t, err, `secret "slack-webhook/alerts" is not a JSON string`)
}
