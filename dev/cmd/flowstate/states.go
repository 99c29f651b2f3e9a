package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/flowstate/flowstate/adapter"
)

// statesCmd prints a run's state history, open or closed.
func statesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("states", "states WORKFLOW_ID [--run-id RUN_ID] [--json] [--codec-endpoint URL]")
	runID := fs.String("run-id", "", "the run (default: the latest run of the workflow ID)")
	asJSON := fs.Bool("json", false, "print the history as JSON")
	level := logLevelFlag(fs, slog.LevelInfo)
	codec := addCodecFlags(fs)
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
	c, read, err := dialCodec(ctx, progress{w: io.Discard}, newLogger(stderr, lvl), codec)
	if err != nil {
		return err
	}
	defer c.Close()
	h, err := adapter.ReadHistory(ctx, c, id, *runID, read...)
	if errors.Is(err, adapter.ErrUndecodable) && len(read) == 0 {
		return fmt.Errorf("%w\n  if a payload codec encodes the runs' payloads, name its codec server: --codec-endpoint URL (or $TEMPORAL_CODEC_ENDPOINT)", err)
	}
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
