// Command flowstate runs flowstate's examples on an embedded Temporal server, runs a worker
// against any Temporal server, starts flows and follows them, and prints their state histories.
//
//	flowstate dev [--demo] [--no-examples] [--db-file PATH] [--headless] [--port 7233] [--ui-port 8233]
//	flowstate demo                       (dev --demo: every example once, on a free port)
//	flowstate worker [--task-queue flowstate-examples]
//	flowstate run FLOW [--input JSON] [--id WORKFLOW_ID] [--task-queue flowstate-examples]
//	flowstate states WORKFLOW_ID [--run-id RUN_ID] [--json]
//
// Install it with `go install github.com/flowstate/flowstate/dev/cmd/flowstate@latest`, or
// `go install ./dev/cmd/flowstate` in a checkout.
//
// worker, run and states connect with the standard Temporal settings: TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* and TEMPORAL_PROFILE, as the temporal CLI
// reads them (default: localhost:7233, namespace default).
//
// Every command logs in log/slog's text format on standard error, the Temporal SDK's lines
// included, from the level --log-level or $FLOWSTATE_LOG_LEVEL gives (default: info; error for
// the demo, whose examples fail on purpose).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `flowstate: Prefect-style flows, tasks and state change hooks on Temporal.

Usage:
  flowstate dev [flags]          embedded Temporal server + a worker running the examples
                                 (--no-examples: the server only; --demo: run every example once)
  flowstate demo                 run every example once on an embedded server, print what happened, exit
  flowstate worker [flags]       a worker running the examples against any Temporal server
  flowstate run FLOW [flags]     start a flow, follow its states, tasks and hooks until it ends
  flowstate states WORKFLOW_ID   print a run's state history, open or closed

Run "flowstate COMMAND -h" for a command's flags. worker, run and states read the standard
Temporal settings: TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default
"default"), TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE. Logs go to standard error, from
--log-level or $FLOWSTATE_LOG_LEVEL (debug, info, warn, error; default info).
`

// errUsage marks a command-line mistake: exit code 2.
var errUsage = errors.New("usage")

// usagef returns a command-line mistake.
func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == errUsage }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	commands := map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"dev": dev,
		"demo": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return dev(ctx, append([]string{"--demo"}, args...), stdout, stderr)
		},
		"worker": workerCmd,
		"run":    runCmd,
		"states": statesCmd,
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "flowstate: unknown command %q\n\n%s", name, usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "flowstate %s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(stderr, "flowstate %s: %s\n", name, strings.TrimPrefix(err.Error(), "flowstate: "))
	return 1
}

// newFlags returns a flag set for a command that reports errors instead of exiting.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: flowstate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, wrapping mistakes in errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}
