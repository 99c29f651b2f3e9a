package e2e_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// What a user imports to define and run flows must not pull in the Temporal server: it lives
// only in the dev command and the test harness.
func TestLibraryDoesNotImportTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/flowstate/flowstate/adapter/...",
		"github.com/flowstate/flowstate/hooks/...",
		"github.com/flowstate/flowstate/workflows/...",
		"github.com/flowstate/flowstate/activities/...",
		"github.com/flowstate/flowstate/worker/...",
		"github.com/flowstate/flowstate/testsuite/...",
	).CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Greater(t, len(deps), 50, "go list returned too little to be meaningful")
	require.Contains(t, deps, "go.temporal.io/sdk/worker")
	for _, d := range deps {
		require.False(t, strings.HasPrefix(d, "go.temporal.io/server"), "the library imports %s", d)
		require.False(t, strings.HasPrefix(d, "github.com/flowstate/flowstate/dev/devserver"), "the library imports %s", d)
	}
	t.Logf("%d packages in the library's import graph, none of go.temporal.io/server", len(deps))
}
