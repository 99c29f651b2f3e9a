// Command scaleworker is the worker of the scale tests: it serves scale.TaskQueue on the server
// TEMPORAL_ADDRESS names, until SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/dev/internal/scale"
	"github.com/flowstate/flowstate/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := worker.Dial(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleworker:", err)
		os.Exit(1)
	}
	defer c.Close()
	opts := scale.Options()
	opts.Worker = sdkworker.Options{MaxConcurrentActivityTaskPollers: 8, MaxConcurrentWorkflowTaskPollers: 8}
	w, err := worker.New(c, scale.TaskQueue, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleworker:", err)
		os.Exit(1)
	}
	scale.RegisterPlain(w.Registry())
	fmt.Println("scaleworker: serving")
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "scaleworker:", err)
		os.Exit(1)
	}
}
