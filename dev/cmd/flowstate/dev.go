package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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

// dev runs an embedded Temporal server and a worker running the examples, until interrupted;
// with --demo it runs each example once, prints what happened and exits.
func dev(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("dev", "dev [--demo] [--db-file PATH] [--headless] [--ip IP] [--port PORT] [--ui-port PORT]")
	demo := fs.Bool("demo", false, "start each example, wait for it, print its state history and what its hooks did, then exit")
	dbFile := fs.String("db-file", "", "keep runs in this SQLite file across restarts (default: in memory)")
	headless := fs.Bool("headless", false, "do not serve the Temporal Web UI")
	ip := fs.String("ip", devserver.DefaultIP, "address to listen on")
	port := fs.Int("port", 7233, "Temporal frontend (gRPC) port; 0 picks a free one")
	uiPort := fs.Int("ui-port", 8233, "Temporal Web UI port")
	logLevel := fs.String("log-level", "", "show the embedded server's logs at this level (debug, info, warn, error)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	p := progress{w: out}

	opts := devserver.Options{IP: *ip, Port: *port, DBFile: *dbFile}
	if !*headless {
		opts.UIPort = *uiPort
	}
	if *logLevel != "" {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
			return usagef("--log-level: %v", err)
		}
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
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

	// The SDK logs every failed attempt, which the examples have on purpose: the demo shows the
	// outcomes itself and keeps only errors; dev shows warnings, and hook effects as they happen.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *demo {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
		slog.SetDefault(quiet)
	} else {
		slog.SetDefault(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	}
	copts := client.Options{Logger: sdkLogger(quiet)}
	copts.PayloadLimits.MemoSizeWarning = worker.MemoSizeWarning
	c, err := srv.NewClient(ctx, copts)
	if err != nil {
		return err
	}
	defer c.Close()

	resolver, rcv, err := demoSecrets(p)
	if err != nil {
		return err
	}
	defer func() { _ = rcv.Close() }()

	wopts := examples.Options(resolver)
	wopts.Logger = quiet
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
	p.info(`
Try it with the temporal CLI (go install github.com/temporalio/cli/cmd/temporal@v1.5.1):
  temporal workflow start --address %[1]s --type ok-with-failure-flow --task-queue %[2]s --workflow-id my-run --input '{"x": "foo", "y": 42}'
  temporal workflow result --address %[1]s --workflow-id my-run
  temporal workflow query --address %[1]s --workflow-id my-run --type flowstate.states
  temporal workflow list --address %[1]s --query "FlowState = 'Failed'"
or with flowstate (TEMPORAL_ADDRESS=%[1]s):
  flowstate run crashing-flow
  flowstate states my-run
Press Ctrl-C to stop.`, srv.HostPort(), examples.TaskQueue)
	<-ctx.Done()
	fmt.Fprintln(out)
	return nil
}

// demoSecrets returns the resolver of the examples' secrets: the environment and the
// FLOWSTATE_SECRETS_FILE, then, for the Slack webhook, a local receiver that shows the message.
func demoSecrets(p progress) (hooks.SecretResolver, *slacknotify.Receiver, error) {
	rcv, err := slacknotify.StartReceiver()
	if err != nil {
		return nil, nil, err
	}
	real := secrets.Default()
	if _, err := real.Resolve(context.Background(), slacknotify.WebhookSecret); err == nil {
		p.info("Slack: the secret %s is set: failing-flow posts to your Slack webhook", slacknotify.WebhookSecret)
		return real, rcv, nil
	}
	p.info("Slack: %s is not set; failing-flow posts to a local receiver and the demo shows the message (set it to post for real)",
		secrets.EnvVar(slacknotify.WebhookSecret))
	return secrets.Chain(real, secrets.Map{slacknotify.WebhookSecret: rcv.URL()}), rcv, nil
}
