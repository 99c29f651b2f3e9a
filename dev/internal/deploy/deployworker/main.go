// Command deployworker is the flowstate worker the rolling-deploy test starts as a separate
// process, once with the "v1" definitions of package deployflows and once with "v2"
// ($FLOWSTATE_DEPLOY_VERSION). It serves the task queue $FLOWSTATE_CHAOS_QUEUE of the Temporal
// server at $TEMPORAL_ADDRESS; its hooks write their effects into $FLOWSTATE_CHAOS_DIR. Its client
// identity is "chaosworker-<pid>", so the test sees when it polls.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/dev/internal/deploy/deployflows"
	"github.com/flowstate/flowstate/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "deployworker:", err)
		os.Exit(1)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(logger)
	version, queue := os.Getenv(deployflows.EnvVersion), os.Getenv(chaosflows.EnvQueue)
	if queue == "" || chaosflows.Dir() == "" {
		return fmt.Errorf("set %s and %s", chaosflows.EnvQueue, chaosflows.EnvDir)
	}
	wopts, err := deployflows.Options(version)
	if err != nil {
		return err
	}
	wopts.Logger = logger

	opts, err := worker.ClientOptions()
	if err != nil {
		return err
	}
	opts.Identity = chaosflows.Identity(os.Getpid())
	opts.Logger = sdklog.NewStructuredLogger(logger)
	c, err := client.DialContext(context.Background(), opts)
	if err != nil {
		return err
	}
	defer c.Close()

	w, err := worker.New(c, queue, wopts)
	if err != nil {
		return err
	}
	deployflows.RegisterPlain(w.Registry())
	logger.Warn("deployworker: serving", "version", version, "queue", queue, "pid", os.Getpid())
	return w.Run(context.Background())
}
