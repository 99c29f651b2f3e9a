package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// workerCmd runs a worker with the examples against the Temporal server the environment names.
func workerCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("worker", "worker [--task-queue QUEUE]")
	queue := fs.String("task-queue", examples.TaskQueue, "task queue to serve")
	if err := parse(fs, args); err != nil {
		return err
	}
	p := progress{w: out}
	slog.SetDefault(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	opts, err := worker.ClientOptions()
	if err != nil {
		return err
	}
	p.step("connecting to Temporal at %s, namespace %s", orDefault(opts.HostPort, "localhost:7233"), orDefault(opts.Namespace, "default"))
	c, err := worker.Dial(ctx)
	if err != nil {
		return fmt.Errorf("%w\n  is a Temporal server running there? (flowstate dev starts one; TEMPORAL_ADDRESS points elsewhere)", err)
	}
	defer c.Close()
	wopts := examples.Options(secrets.Default())
	w, err := worker.New(c, *queue, wopts)
	if err != nil {
		return err
	}
	var flows []string
	for _, f := range wopts.Flows {
		flows = append(flows, f.Name())
	}
	p.done("worker on task queue %s running flows %s; Ctrl-C stops it", *queue, strings.Join(flows, ", "))
	if err := w.Run(ctx); err != nil {
		return err
	}
	p.done("worker stopped")
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
