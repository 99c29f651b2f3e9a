package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/activities"
	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/hooks/secrets"
	"github.com/flowstate/flowstate/workflows"
)

// SearchAttributeMode says whether flow runs keep the FlowState search attribute current.
type SearchAttributeMode int

const (
	// SearchAttributesAuto asks the server at start-up whether FlowState is registered.
	SearchAttributesAuto SearchAttributeMode = iota
	// SearchAttributesOn assumes FlowState is registered.
	SearchAttributesOn
	// SearchAttributesOff keeps flow states in the memo and the query only.
	SearchAttributesOff
)

// Options configure a flowstate worker. The zero value registers nothing.
type Options struct {
	// Flows are registered as workflow types named after them.
	Flows []adapter.AnyFlow
	// Tasks are registered as activity types named after them. List every task the flows call.
	Tasks []adapter.AnyTask
	// Hooks are hooks the worker can run besides those attached to Flows, Tasks, Workflows and
	// Activities: hooks attached in flow code with WithOptions must be listed here.
	Hooks []hooks.Definition
	// Workflows attach flow options (hooks, retries, timeout) to plain Temporal workflow types
	// by name, without touching their code. Register the workflows themselves with Registry.
	Workflows map[string]adapter.FlowOptions
	// Activities attach task options (hooks) to plain Temporal activity types by name. Register
	// the activities themselves with Registry.
	Activities map[string]adapter.TaskOptions
	// Secrets resolves the named secrets hooks ask for with hooks.Secret, on this worker.
	// default: none (hooks that need a secret fail with a clear error)
	Secrets hooks.SecretResolver
	// HookDefaults are the options of hook activities whose hooks leave a field zero.
	// default: the hooks package defaults (hooks.DefaultRetryPolicy, 1 minute, 10 seconds)
	HookDefaults hooks.Options
	// SearchAttributes says whether flow runs keep the FlowState search attribute current.
	// default: SearchAttributesAuto
	SearchAttributes SearchAttributeMode
	// Namespace is the client's namespace, where SearchAttributesAuto looks FlowState up.
	// default: TEMPORAL_NAMESPACE, else "default"
	Namespace string
	// Worker are the options of the Temporal worker; flowstate appends its interceptors.
	Worker sdkworker.Options
	// Sweeper configures the crash sweeper, which runs the on_crashed hooks of flow runs that were
	// terminated or timed out on the server (see SweeperOptions). Workers with flows run it.
	Sweeper SweeperOptions
	// LegacyRuns replays runs that flowstate v0.1 started, which recorded no hook plan: such runs
	// follow this worker's definitions, as they did under v0.1, and new runs record their plan
	// even when it is empty, so that they are told apart (one marker event more per run). Set it
	// on every worker while runs started by v0.1 are in flight, without changing the definitions
	// they started with; unset it once they are done. See the README's "Deploying changes".
	// default: false
	LegacyRuns bool
	// DataConverter converts task results to payloads when flowstate attaches the log of their
	// attempts to them, before the client's payload codecs, which the SDK applies. Set it only when
	// the client's DataConverter does not build on the SDK's default payload conversion (JSON,
	// protobuf): to that conversion, without its codecs.
	// default: converter.GetDefaultDataConverter()
	DataConverter converter.DataConverter
	// Tracer makes every state transition and hook call a span, a child of the flow's workflow
	// span: give it the tracer of the SDK's tracing interceptor you install on the client
	// (interceptor.NewTracingInterceptor(tracer), or the opentelemetry contrib package's
	// NewTracer). Hook calls made as activities are spans of that interceptor already
	// (StartActivity and RunActivity of flowstate.hook); these spans name the hook and the state.
	// default: none
	Tracer interceptor.Tracer
	// Logger receives flowstate's start-up messages.
	// default: slog.Default()
	Logger *slog.Logger
}

// Worker is a Temporal worker running flows, tasks and hooks.
type Worker struct {
	sdkworker.Worker
	setup *Setup
	queue string
	c     client.Client

	// sweeper is the worker's part of the crash sweeper; nil without one.
	sweeper *sweeper
}

// New builds a worker for taskQueue. It registers the flows, the tasks and the hook runner, and
// installs flowstate's interceptors. Every problem with the definitions is reported at once. It
// checks opts.Secrets when the resolver can be checked (see secrets.Checker).
func New(c client.Client, taskQueue string, opts Options) (*Worker, error) {
	if c == nil {
		return nil, errors.New("flowstate: worker needs a Temporal client")
	}
	if taskQueue == "" {
		return nil, errors.New("flowstate: worker needs a task queue")
	}
	// A broken secrets source (a secrets file others can read, say) fails here, not in every hook.
	if err := secrets.Check(context.Background(), opts.Secrets); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	sa := opts.SearchAttributes == SearchAttributesOn
	if opts.SearchAttributes == SearchAttributesAuto {
		sa = searchAttributeRegistered(c, namespace(opts.Namespace), logger)
	}
	setup, err := NewSetup(opts, sa)
	if err != nil {
		return nil, err
	}
	wopts := opts.Worker
	wopts.Interceptors = append(append([]interceptor.WorkerInterceptor(nil), wopts.Interceptors...), setup.Interceptors...)
	w := sdkworker.New(c, taskQueue, wopts)
	setup.Register(w, nil)
	w.RegisterActivityWithOptions(activities.NewCrashReader(c, setup.planFor).CrashInfo, activity.RegisterOptions{Name: workflows.CrashInfoActivity})
	if len(setup.FlowTypes()) > 0 {
		registerLegacySweeper(w)
	}
	return &Worker{Worker: w, setup: setup, queue: taskQueue, c: c, sweeper: newSweeper(c, taskQueue, setup.FlowTypes(), opts, logger)}, nil
}

// Start starts the worker without blocking, and its part of the crash sweeper: it registers its
// flow types with the namespace's sweeper, starting the sweeper if it does not run.
func (w *Worker) Start() error {
	if err := w.Worker.Start(); err != nil {
		return err
	}
	if w.sweeper == nil {
		return nil
	}
	if err := w.sweeper.start(); err != nil {
		w.Worker.Stop()
		return err
	}
	return nil
}

// Stop stops the worker, and its part of the crash sweeper (the sweeper itself goes on, on the
// namespace's other workers).
func (w *Worker) Stop() {
	if w.sweeper != nil {
		w.sweeper.stop()
	}
	w.Worker.Stop()
}

// Hooks returns the hooks the worker can run.
func (w *Worker) Hooks() *hooks.Registry { return w.setup.Hooks }

// Registry returns the Temporal registry, to register plain workflows and activities beside the
// flows and tasks.
func (w *Worker) Registry() sdkworker.Registry { return w.Worker }

// TaskQueue returns the worker's task queue.
func (w *Worker) TaskQueue() string { return w.queue }

// Run starts the worker and blocks until ctx is done or the process receives SIGINT or SIGTERM,
// then stops it gracefully: running activities finish (within the Temporal worker's stop
// timeout) before Run returns.
func (w *Worker) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Start(); err != nil {
		return fmt.Errorf("flowstate: starting the worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

func namespace(ns string) string {
	if ns != "" {
		return ns
	}
	if env := os.Getenv("TEMPORAL_NAMESPACE"); env != "" {
		return env
	}
	return client.DefaultNamespace
}

// searchAttributeRegistered asks the server whether FlowState is registered, and says once, with
// the command to fix it, when it is not.
func searchAttributeRegistered(c client.Client, ns string, logger *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), defaultRPCTimeout)
	defer cancel()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err == nil {
		if t, ok := resp.GetCustomAttributes()[workflows.SearchAttribute]; ok && t == enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			return true
		}
	}
	reason := "it is not registered"
	if err != nil {
		reason = "the server could not be asked: " + err.Error()
	}
	logger.Warn(fmt.Sprintf("flowstate: the %s search attribute is not used (%s); flows keep their state in the memo and the query only. "+
		"To filter runs by state, register it and restart the worker: temporal operator search-attribute create --namespace %s --name %s --type Keyword",
		workflows.SearchAttribute, reason, ns, workflows.SearchAttribute))
	return false
}

// MemoSizeWarning is the memo size above which clients made by ClientOptions warn. The SDK's
// default, 2 KiB, is less than the state history of a flow with a few tasks; a closed run of
// thousands of tasks keeps up to about 900 KiB (its history, plain and compressed, and its data).
// Set client.Options.PayloadLimits.MemoSizeWarning to it on clients you build yourself.
const MemoSizeWarning = 1 << 20

// ClientOptions returns Temporal client options from the standard environment variables and
// config file (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
// TEMPORAL_PROFILE), as the temporal CLI reads them. With nothing set it targets localhost:7233
// and the default namespace. It raises the memo size warning to MemoSizeWarning, and logs through
// slog.Default (info and above, by default) unless the options set a logger.
func ClientOptions() (client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.Options{}, fmt.Errorf("flowstate: reading Temporal connection settings: %w", err)
	}
	if opts.PayloadLimits.MemoSizeWarning == 0 {
		// A closed flow run keeps its state history in its memo (up to about 900 KiB): do not warn about
		// every run whose history passes the SDK's 2 KiB default.
		opts.PayloadLimits.MemoSizeWarning = MemoSizeWarning
	}
	if opts.Logger == nil {
		// The SDK's own default logs every activity and timer at debug level, in a format of its
		// own: log through slog instead, at info and above.
		opts.Logger = sdklog.NewStructuredLogger(slog.Default())
	}
	return opts, nil
}

// Dial connects a Temporal client with ClientOptions.
func Dial(ctx context.Context) (client.Client, error) {
	opts, err := ClientOptions()
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		addr := opts.HostPort
		if addr == "" {
			addr = client.DefaultHostPort
		}
		return nil, fmt.Errorf("flowstate: connecting to Temporal at %s (namespace %s): %w", addr, namespace(opts.Namespace), err)
	}
	return c, nil
}

const defaultRPCTimeout = 10 * time.Second
