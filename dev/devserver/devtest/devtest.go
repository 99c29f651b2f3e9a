// Package devtest gives the end-to-end tests of a package one real Temporal server, started in
// the test binary's process on first use and stopped when the binary's tests are done.
//
// A package opts in with a TestMain, then asks for the server in each test:
//
//	func TestMain(m *testing.M) { devtest.Main(m) }
//
//	func TestGreeting(t *testing.T) {
//		srv := devtest.Shared(t)
//		c := devtest.NewClient(t, srv)
//		tq := devtest.TaskQueue(t)
//		w := worker.New(c, tq, worker.Options{})
//		w.RegisterWorkflow(Greet)
//		require.NoError(t, w.Start())
//		t.Cleanup(w.Stop) // runs before the client's Close, which NewClient registered first
//		run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq}, Greet, "x")
//		...
//	}
//
// The server is in memory, listens on a free port of 127.0.0.1, has the "default" namespace
// with the FlowState search attribute, and starts in well under a second. Tests of one binary
// share it, so each test uses its own task queue (TaskQueue) and workflow IDs; tests of
// different packages run in different binaries and get different servers.
//
// Shared works without Main too; the server then lives until the process exits.
//
// The server's logs are discarded. Set FLOWSTATE_DEVSERVER_LOG to debug, info, warn or error to
// see them on stderr. SDK logs of NewClient's clients at Warn and above go to the test's log.
package devtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/flowstate/flowstate/dev/devserver"
)

// LogEnv names the environment variable that shows the shared server's logs on stderr.
const LogEnv = "FLOWSTATE_DEVSERVER_LOG"

// TestDynamicConfig is the dynamic config of the shared server: the dev server's, with its
// transfer queue unthrottled, so that a workflow task is dispatched at once rather than after up
// to 50 ms (a production server with many shards rarely waits either).
var TestDynamicConfig = map[string]any{"history.transferProcessorMaxPollRPS": 1000}

var (
	once     sync.Once
	mu       sync.Mutex
	shared   *devserver.Server
	startErr error
)

// Shared returns the test binary's server, starting it on first use. A server that cannot
// start fails every test that asks for it.
func Shared(t testing.TB) *devserver.Server {
	t.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		logger, err := envLogger()
		var srv *devserver.Server
		if err == nil {
			srv, err = devserver.Start(ctx, devserver.Options{Logger: logger, DynamicConfig: TestDynamicConfig})
		}
		mu.Lock()
		shared, startErr = srv, err
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	if startErr != nil {
		t.Fatalf("devtest: starting the shared Temporal dev server: %v", startErr)
	}
	return shared
}

// Main runs the tests, stops the shared server if one was started, and exits with the tests'
// code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	srv := shared
	mu.Unlock()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devtest: stopping the shared Temporal dev server: %v\n", err)
		}
	}
	os.Exit(code)
}

// NewClient dials srv in its namespace and closes the client when the test ends. Register the
// Stop of workers built on it after this call, so that they stop first.
func NewClient(t testing.TB, srv *devserver.Server) client.Client {
	t.Helper()
	logger := &testLogger{t: t}
	t.Cleanup(logger.detach) // runs after the client's Close below
	c, err := srv.NewClient(t.Context(), client.Options{Logger: logger})
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var queues atomic.Int64

// TaskQueue returns a task queue name of the test's own, unique in the process: tests that share
// a server never take each other's tasks, also under -count.
func TaskQueue(t testing.TB) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "."), queues.Add(1))
}

func envLogger() (*slog.Logger, error) {
	v := os.Getenv(LogEnv)
	if v == "" {
		return nil, nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return nil, fmt.Errorf("%s=%q: want debug, info, warn or error", LogEnv, v)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

// testLogger hands an SDK client's warnings and errors to the test's log until the test ends;
// the SDK can log from its own goroutines after that, when testing.T must not be used.
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

var _ sdklog.Logger = (*testLogger)(nil)

func (l *testLogger) detach() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}

func (l *testLogger) log(level, msg string, keyvals []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	l.t.Log(append([]any{"temporal sdk:", level, msg}, keyvals...)...)
}

func (l *testLogger) Debug(string, ...any)             {}
func (l *testLogger) Info(string, ...any)              {}
func (l *testLogger) Warn(msg string, keyvals ...any)  { l.log("WARN", msg, keyvals) }
func (l *testLogger) Error(msg string, keyvals ...any) { l.log("ERROR", msg, keyvals) }
