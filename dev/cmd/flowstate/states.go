package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/flowstate/flowstate/adapter"
)

// statesCmd prints a run's state history, open or closed.
func statesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("states", "states WORKFLOW_ID [--run-id RUN_ID] [--json]")
	runID := fs.String("run-id", "", "the run (default: the latest run of the workflow ID)")
	asJSON := fs.Bool("json", false, "print the history as JSON")
	level := logLevelFlag(fs, slog.LevelInfo)
	id, rest := positional(args)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if id == "" {
		id = fs.Arg(0)
	}
	if id == "" {
		return usagef("name the workflow ID, e.g. flowstate states my-run")
	}
	lvl, err := level.Level()
	if err != nil {
		return err
	}
	c, err := dial(ctx, progress{w: io.Discard}, newLogger(stderr, lvl))
	if err != nil {
		return err
	}
	defer c.Close()
	h, err := adapter.ReadHistory(ctx, c, id, *runID)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	}
	fmt.Fprintf(stdout, "flow %s, workflow ID %s, run ID %s: %s\n", h.Flow, h.WorkflowID, h.RunID, h.State)
	fmt.Fprint(stdout, h.Timeline())
	return nil
}
