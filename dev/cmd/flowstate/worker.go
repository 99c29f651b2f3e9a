package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// workerCmd runs a worker with the examples against the Temporal server the environment names.
func workerCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", "worker [--task-queue QUEUE] [--log-level LEVEL]")
	queue := fs.String("task-queue", examples.TaskQueue, "task queue to serve")
	level := logLevelFlag(fs, slog.LevelInfo)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	lvl, err := level.Level()
	if err != nil {
		return err
	}
	logger := newLogger(stderr, lvl)
	slog.SetDefault(logger) // the examples' hooks log what they did
	p := progress{w: stdout}
	c, err := dial(ctx, p, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	wopts := examples.Options(secrets.Default())
	wopts.Logger = logger
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
