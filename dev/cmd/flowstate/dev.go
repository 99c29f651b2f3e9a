package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/dev/examples"
	"github.com/flowstate/flowstate/dev/examples/slacknotify"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/worker"
)

// defaultPort is the frontend port of `flowstate dev`, Temporal's usual one: the temporal CLI and
// the SDK dial localhost:7233 when nothing else is set.
const defaultPort = 7233

// dev runs an embedded Temporal server and a worker running the examples, until interrupted;
// with --demo it runs each example once, prints what happened and exits.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", "dev [--demo] [--no-examples] [--db-file PATH] [--headless] [--ip IP] [--port PORT] [--ui-port PORT] [--log-level LEVEL]")
	demo := fs.Bool("demo", false, "start each example, wait for it, print its state history and what its hooks did, then exit\n"+
		"(on a free port and without the Web UI, unless --port, --ui-port or --headless say otherwise)")
	noExamples := fs.Bool("no-examples", false, "run the Temporal server only, without the examples' worker: bring your own worker")
	dbFile := fs.String("db-file", "", "keep runs in this SQLite file across restarts (default: in memory)")
	headless := fs.Bool("headless", false, "do not serve the Temporal Web UI")
	ip := fs.String("ip", devserver.DefaultIP, "address to listen on")
	port := fs.Int("port", defaultPort, "Temporal frontend (gRPC) port; 0 picks a free one")
	uiPort := fs.Int("ui-port", 8233, "Temporal Web UI port")
	level := logLevelFlag(fs, slog.LevelInfo)
	serverLevel := fs.String("server-log-level", "", "also show the embedded Temporal server's own logs, from this level up (debug, info, warn, error)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *demo && *noExamples {
		return usagef("--demo runs the examples: it cannot go with --no-examples")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *demo && !set["port"] && !set["ui-port"] && !set["headless"] {
		// The demo exits when it is done: it needs no UI nor Temporal's usual port, and so it
		// runs beside a `flowstate dev` that holds them.
		*port, *headless = 0, true
	}
	if *demo && !set["log-level"] && os.Getenv(LogLevelEnv) == "" {
		// The examples fail on purpose, and the demo reports how: only errors are news.
		level.def = slog.LevelError
	}
	lvl, err := level.Level()
	if err != nil {
		return err
	}
	logger := newLogger(stderr, lvl)
	slog.SetDefault(logger)
	p := progress{w: stdout}

	opts := devserver.Options{IP: *ip, Port: *port, DBFile: *dbFile}
	if !*headless {
		opts.UIPort = *uiPort
	}
	if *serverLevel != "" {
		sl, err := parseLogLevel(*serverLevel)
		if err != nil {
			return usagef("--server-log-level: %v", err)
		}
		opts.Logger = newLogger(stderr, sl).With("from", "temporal-server")
	}
	storage := "in memory"
	if *dbFile != "" {
		abs, _ := filepath.Abs(*dbFile)
		storage = "in " + abs
		if _, err := os.Stat(*dbFile); err == nil {
			storage += " (reopened)"
		}
	}
	p.step("starting a Temporal server (SQLite %s)", storage)
	t0 := time.Now()
	srv, err := devserver.Start(ctx, opts)
	if err != nil {
		if errors.Is(err, devserver.ErrPortInUse) {
			return fmt.Errorf("%w\n  another Temporal server (or flowstate dev) may be running: stop it, or pick other ports with --port and --ui-port", err)
		}
		return err
	}
	defer func() {
		p.step("stopping the Temporal server")
		if err := srv.Stop(); err != nil {
			p.fail("%v", err)
		}
	}()
	p.done("ready in %s at %s, namespace %s", time.Since(t0).Round(time.Millisecond), srv.HostPort(), srv.Namespace())
	if !*headless {
		p.info("Temporal Web UI: %s", srv.UIAddress())
	}

	if *noExamples {
		p.info("\nServer only (--no-examples): no worker runs here. Start yours against %s (worker.Dial reads\n"+
			"TEMPORAL_ADDRESS), or the examples' worker in a process of its own:\n  %sflowstate worker\nPress Ctrl-C to stop.",
			srv.HostPort(), envPrefix(srv.HostPort()))
		<-ctx.Done()
		fmt.Fprintln(stdout)
		return nil
	}

	copts := client.Options{Logger: sdkLogger(logger)}
	copts.PayloadLimits.MemoSizeWarning = worker.MemoSizeWarning
	c, err := srv.NewClient(ctx, copts)
	if err != nil {
		return err
	}
	defer c.Close()

	resolver, rcv, err := demoSecrets(ctx, p)
	if err != nil {
		return err
	}
	defer func() { _ = rcv.Close() }()

	wopts := examples.Options(resolver)
	wopts.Logger = logger
	w, err := worker.New(c, examples.TaskQueue, wopts)
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	defer func() {
		p.step("stopping the worker")
		w.Stop()
	}()
	var flows []string
	for _, f := range wopts.Flows {
		flows = append(flows, f.Name())
	}
	p.done("worker on task queue %s running flows %s", examples.TaskQueue, strings.Join(flows, ", "))

	if *demo {
		return runDemo(ctx, c, p)
	}
	p.info("%s", banner(srv.HostPort()))
	<-ctx.Done()
	fmt.Fprintln(stdout)
	return nil
}

// banner says how to try the running examples.
func banner(hostPort string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nTry it in another terminal%s:\n", addressHint(hostPort, " (after export TEMPORAL_ADDRESS="+hostPort+")"))
	fmt.Fprintf(&b, "  temporal workflow start --type ok-with-failure-flow --task-queue %s --workflow-id my-run --input '{\"x\": \"foo\", \"y\": 42}'\n", examples.TaskQueue)
	b.WriteString("  temporal workflow result --workflow-id my-run\n")
	b.WriteString("  flowstate states my-run\n")
	b.WriteString("  flowstate run crashing-flow\n")
	if _, err := exec.LookPath("temporal"); err != nil {
		b.WriteString("temporal is not on your PATH: go install github.com/temporalio/cli/cmd/temporal@v1.5.1\n")
	}
	if _, err := exec.LookPath("flowstate"); err != nil {
		b.WriteString("flowstate is not on your PATH: go install github.com/flowstate/flowstate/dev/cmd/flowstate@latest\n")
	}
	b.WriteString("Press Ctrl-C to stop.")
	return b.String()
}

// addressHint returns hint unless hostPort is where the temporal CLI and the SDK look by default.
func addressHint(hostPort, hint string) string {
	if hostPort == fmt.Sprintf("%s:%d", devserver.DefaultIP, defaultPort) {
		return ""
	}
	return hint
}

// envPrefix returns "TEMPORAL_ADDRESS=… " unless hostPort is the default address.
func envPrefix(hostPort string) string {
	return addressHint(hostPort, "TEMPORAL_ADDRESS="+hostPort+" ")
}

// demoSecrets returns the resolver of the examples' secrets: the environment and the
// FLOWSTATE_SECRETS_FILE, then, for the Slack webhook, a local receiver that shows the message. A
// broken secrets file is an error here, before the worker starts.
func demoSecrets(ctx context.Context, p progress) (hooks.SecretResolver, *slacknotify.Receiver, error) {
	real := secrets.Default()
	if err := secrets.Check(ctx, real); err != nil {
		return nil, nil, err
	}
	rcv, err := slacknotify.StartReceiver()
	if err != nil {
		return nil, nil, err
	}
	if _, err := real.Resolve(ctx, slacknotify.WebhookSecret); err == nil {
		p.info("Slack: the secret %s is set: failing-flow posts to your Slack webhook", slacknotify.WebhookSecret)
		return real, rcv, nil
	}
	p.info("Slack: %s is not set; failing-flow posts to a local receiver and the demo shows the message (set it to post for real)",
		secrets.EnvVar(slacknotify.WebhookSecret))
	return secrets.Chain(real, secrets.Map{slacknotify.WebhookSecret: rcv.URL()}), rcv, nil
}
