package temporalcli_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/dev/internal/temporalcli"
)

func TestPathReportsVersion(t *testing.T) {
	bin := temporalcli.Path(t)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(out), "temporal version"), string(out))
}
