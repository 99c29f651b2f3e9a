// Command flowstate-bench measures what flowstate costs on top of plain Temporal.
//
// It starts one real Temporal server in its own process (the in-process dev server, on an
// in-memory SQLite database), a plain SDK worker and a flowstate worker beside it, and runs the
// same workload, alternating round by round, as:
//
//   - raw: a workflow calling -tasks no-op activities in sequence, with the Temporal SDK alone;
//   - flowstate, no hooks: the same as a flow calling -tasks tasks;
//   - flowstate, hooks: the same with no-op hooks on every event of the flow and of each task, in
//     the default configuration (hooks.ModeAuto) and in hooks.ModeActivity and hooks.ModeLocal;
//   - raw, concurrent and flowstate, concurrent (with and without hooks, in each mode): all
//     tasks started at once (Submit) and awaited.
//
// It prints a table of throughput, latency, history events, hook calls and hook start latency,
// CPU and peak RSS per row, with each flowstate row's ratio to its raw row, the history events
// by type, and flowstate's performance targets judged round by round. -json prints the same as JSON.
// BENCHMARKS.md at the repository root explains the numbers.
//
//	go run ./dev/cmd/flowstate-bench                  # full size: about three minutes on two cores
//	go run ./dev/cmd/flowstate-bench -small           # CI size: about half a minute
//	go run ./dev/cmd/flowstate-bench -rows hooks,concurrent-hooks -rounds 8 -timeline
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flowstate-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flowstate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := DefaultConfig
	small := fs.Bool("small", false, fmt.Sprintf("CI size: %d flows × %d tasks, %d in flight, %d rounds (flags given explicitly still win)",
		SmallConfig.Flows, SmallConfig.Tasks, SmallConfig.Concurrency, SmallConfig.Rounds))
	flows := fs.Int("flows", def.Flows, "flows per row, over all rounds")
	tasks := fs.Int("tasks", def.Tasks, "tasks (activities) per flow")
	conc := fs.Int("concurrency", def.Concurrency, "flows in flight at once")
	rounds := fs.Int("rounds", def.Rounds, "rounds: each row's flows are split into this many batches, rows alternating")
	warmup := fs.Int("warmup", def.Warmup, "unmeasured flows per row before the first round")
	pollers := fs.Int("pollers", def.Pollers, "workflow task pollers and activity task pollers per worker (0: the SDK default, 2)")
	sample := fs.Int("sample", def.Sample, "histories read per row (0: all)")
	rows := fs.String("rows", strings.Join(def.Rows, ","), "rows to measure, comma-separated, from: "+strings.Join(allRowKeys(), ", ")+" (raw is always measured)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of tables")
	jsonFile := fs.String("json-file", "", "also write the report as JSON to this file")
	timeline := fs.Bool("timeline", false, "also print the history of one run of each row, event by event, with times")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	serverConfig := dynamicConfigFlag{}
	fs.Var(serverConfig, "server-config", "a Temporal dynamic config value for the server, key=value (repeatable), e.g. history.transferProcessorMaxPollRPS=1000")
	noSweeper := fs.Bool("no-sweeper", false, "turn the flowstate worker's crash sweeper off (it runs because the hooks flow has on_crashed hooks)")
	serverLog := fs.String("server-log", "", "show the Temporal server's logs on stderr at this level: debug, info, warn or error")
	profileDir := fs.String("cpuprofile-dir", "", "write a CPU profile of each measured batch to this directory, as <row>-r<round>.pprof (the whole process: server, workers and client); merge a row's with go tool pprof -proto")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	cfg := def
	if *small {
		cfg = SmallConfig
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	override := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	override("flows", &cfg.Flows, *flows)
	override("tasks", &cfg.Tasks, *tasks)
	override("concurrency", &cfg.Concurrency, *conc)
	override("rounds", &cfg.Rounds, *rounds)
	override("warmup", &cfg.Warmup, *warmup)
	override("sample", &cfg.Sample, *sample)
	override("pollers", &cfg.Pollers, *pollers)
	if set["rows"] {
		cfg.Rows = strings.Split(*rows, ",")
	}
	cfg.NoSweeper = *noSweeper
	if len(serverConfig) > 0 {
		cfg.ServerConfig = serverConfig
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	progress := stderr
	if *quiet {
		progress = nil
	}
	opts := runOptions{}
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			return err
		}
		opts.profileDir = *profileDir
	}
	if *serverLog != "" {
		var level slog.Level
		if err := level.UnmarshalText([]byte(*serverLog)); err != nil {
			return fmt.Errorf("-server-log %q: want debug, info, warn or error", *serverLog)
		}
		opts.serverLog = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	}
	rep, err := runWith(ctx, cfg, progress, opts)
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		f, err := os.Create(*jsonFile)
		if err != nil {
			return err
		}
		err = rep.WriteJSON(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *timeline {
		rep.WriteTimelines(stdout)
	}
	return nil
}

// dynamicConfigFlag collects -server-config key=value pairs. Values are taken as integers,
// floats or booleans when they parse as such, else as strings.
type dynamicConfigFlag map[string]any

func (d dynamicConfigFlag) String() string {
	parts := make([]string, 0, len(d))
	for k, v := range d {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (d dynamicConfigFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if i, err := strconv.Atoi(v); err == nil {
		d[k] = i
	} else if f, err := strconv.ParseFloat(v, 64); err == nil {
		d[k] = f
	} else if b, err := strconv.ParseBool(v); err == nil {
		d[k] = b
	} else {
		d[k] = v
	}
	return nil
}
