package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

func TestMain(m *testing.M) { flowstatetest.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files of TestRunOutput")

// The flows of TestRunOutput: a download that fails twice then succeeds, a notification hook that
// fails twice then succeeds (its first attempt runs locally, the next ones as an activity), a task
// that panics on both its attempts, and a flow with typed input.
// Retries wait a second or two, so that `flowstate run`, which polls four times a second, sees
// each failed attempt while its retry is due.

type ingestParams struct {
	URL string `json:"url"`
}

var download = adapter.NewTask("download", func(ctx context.Context, url string) (int, error) {
	if n := activity.GetInfo(ctx).Attempt; n < 3 {
		return 0, fmt.Errorf("GET %s: connection reset (attempt %d)", url, n)
	}
	return 1234, nil
}, adapter.TaskOptions{Retries: 2, RetryDelay: adapter.FixedDelay(1500 * time.Millisecond)})

var notifyTeam = hooks.NewFlowHook("notify-team", func(ctx context.Context, c hooks.FlowCall) error {
	if c.Hook.Attempt < 3 {
		return fmt.Errorf("chat service answered 503 (attempt %d)", c.Hook.Attempt)
	}
	return nil
}, hooks.Options{RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumAttempts: 3}})

var ingest = adapter.NewFlow("ingest", func(ctx workflow.Context, p ingestParams) (string, error) {
	n, err := download.Run(ctx, p.URL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rows", n), nil
}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{notifyTeam}})

var explode = adapter.NewTask("explode", func(ctx context.Context, _ struct{}) (struct{}, error) {
	panic("disk on fire")
}, adapter.TaskOptions{Retries: 1, RetryDelay: adapter.FixedDelay(1500 * time.Millisecond)})

var crashing = adapter.NewFlow("crashing", func(ctx workflow.Context, _ struct{}) (struct{}, error) {
	return explode.Run(ctx, struct{}{})
})

// `flowstate run` against a real server and worker: the state history as it grows, each attempt
// of a retrying task, the failed attempt of a retrying hook while its retry is due, and how the
// run ended, in words (no SDK error chain, a message once). Times, run IDs and the address are
// normalised; go test -run TestRunOutput -update rewrites the golden files.
func TestRunOutput(t *testing.T) {
	srv := flowstatetest.Shared(t)
	c := srv.NewClient(t, client.Options{})
	tq := flowstatetest.TaskQueue(t)
	w, err := worker.New(c, tq, worker.Options{
		Flows: []adapter.AnyFlow{ingest, crashing},
		Tasks: []adapter.AnyTask{download, explode},
	})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	t.Setenv("TEMPORAL_ADDRESS", srv.HostPort())
	t.Setenv("TEMPORAL_NAMESPACE", srv.Namespace())
	t.Setenv(LogLevelEnv, "")

	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "retrying-task-and-hook", args: []string{"ingest", "--input", `{"url": "https://example.com/data.csv"}`}},
		{name: "crashed", args: []string{"crashing"}, code: 1},
		{name: "invalid-input", args: []string{"ingest", "--input", `{"url": 42}`}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"run"}, tt.args...)
			args = append(args, "--task-queue", tq, "--id", "golden-"+tt.name)
			code := run(t.Context(), args, &stdout, &stderr)
			got := fmt.Sprintf("$ flowstate run %s\n%s--- stderr\n%s--- exit status %d\n",
				strings.Join(tt.args, " "), stdout.String(), stderr.String(), code)
			got = normalise(got, srv.HostPort())
			t.Logf("\n%s", got)
			require.Equal(t, tt.code, code)
			require.NotContains(t, got, "(type: ", "the SDK's error chain")
			require.NotContains(t, got, "retryable:")

			path := filepath.Join("testdata", "run", tt.name+".golden")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no golden file: go test -run TestRunOutput -update")
			require.Equal(t, string(want), got)
		})
	}
}

var (
	offsetRE = regexp.MustCompile(`(?m)^ *\+[0-9.]+[a-zµ]*[0-9.a-zµ]*  `)
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	stampRE  = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
)

// normalise replaces what changes from run to run: offsets in the timeline, run IDs, timestamps,
// the server's address.
func normalise(s, hostPort string) string {
	s = offsetRE.ReplaceAllString(s, "      +T  ")
	s = uuidRE.ReplaceAllString(s, "RUN-ID")
	s = stampRE.ReplaceAllString(s, `"TIME"`)
	return strings.ReplaceAll(s, hostPort, "HOST:PORT")
}
