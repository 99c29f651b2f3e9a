// Command chaosworker is the flowstate worker the chaos tests start as a separate process and
// kill with SIGKILL. It serves the task queue $FLOWSTATE_CHAOS_QUEUE of the Temporal server at
// $TEMPORAL_ADDRESS with the flows of package chaosflows, whose tasks and hooks write markers and
// effects into $FLOWSTATE_CHAOS_DIR. Its identity is "chaosworker-<pid>", on its own task queue and
// on the crash sweeper's, so the tests see when it polls and where the sweeper runs.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/internal/chaos/chaosflows"
	"github.com/flowstate/flowstate/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaosworker:", err)
		os.Exit(1)
	}
}

func run() error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(logger)
	queue := os.Getenv(chaosflows.EnvQueue)
	if queue == "" || chaosflows.Dir() == "" {
		return fmt.Errorf("set %s and %s", chaosflows.EnvQueue, chaosflows.EnvDir)
	}
	var interval time.Duration
	if v := os.Getenv(chaosflows.EnvSweepInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", chaosflows.EnvSweepInterval, err)
		}
		interval = d
	}

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

	flows := chaosflows.Flows()
	if v := os.Getenv(chaosflows.EnvFlows); v != "" {
		want := strings.Split(v, ",")
		flows = slices.DeleteFunc(flows, func(f adapter.AnyFlow) bool { return !slices.Contains(want, f.Name()) })
	}
	w, err := worker.New(c, queue, worker.Options{
		Flows:   flows,
		Tasks:   chaosflows.Tasks(),
		Sweeper: worker.SweeperOptions{Interval: interval, Group: os.Getenv(chaosflows.EnvSweeperGroup)},
		Worker:  sdkworker.Options{Identity: opts.Identity},
		Logger:  logger,
	})
	if err != nil {
		return err
	}
	logger.Info("chaosworker: serving", "queue", queue, "pid", os.Getpid(), "address", opts.HostPort)
	if err := w.Run(context.Background()); err != nil {
		return err
	}
	// A process that has more to close after its worker stopped: the SDK gets the time to
	// report what the worker's last tasks returned.
	if v := os.Getenv(chaosflows.EnvExitDelay); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %w", chaosflows.EnvExitDelay, err)
		}
		time.Sleep(d)
	}
	logger.Info("chaosworker: stopped")
	return nil
}
