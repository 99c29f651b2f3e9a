package flowstatetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

// LogEnv names the environment variable that shows the servers' own logs on stderr, at the level
// it holds: debug, info, warn or error.
const LogEnv = "FLOWSTATE_DEVSERVER_LOG"

// startTimeout bounds the start of a server.
const startTimeout = time.Minute

// Server is a Temporal server running in the test process. Its methods are safe for concurrent
// use.
type Server struct {
	dev *devserver.Server
}

var (
	sharedOnce sync.Once
	sharedMu   sync.Mutex
	shared     *Server
	sharedErr  error
)

// Shared returns the test binary's server, starting it on first use: in memory, on free ports of
// 127.0.0.1, with the "default" namespace and flowstate's search attributes. It lives until Main
// stops it after the tests, or until the process exits. A server that cannot start fails every
// test that asks for it.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		srv, err := start(devserver.Options{})
		sharedMu.Lock()
		shared, sharedErr = srv, err
		sharedMu.Unlock()
	})
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedErr != nil {
		t.Fatalf("flowstatetest: starting the shared Temporal server: %v", sharedErr)
	}
	return shared
}

// Main runs the tests, stops the shared server if a test started it, and exits with the tests'
// code. Call it from TestMain.
//
// Before the tests, Main computes the Temporal SDK's checksum of the test executable, which the
// SDK's in-memory test environment would otherwise compute inside the first flow it runs: tests
// of flowstate's testsuite package can then share a test binary, made large by the Temporal
// server, with tests of this package.
func Main(m *testing.M) {
	presetBinaryChecksum()
	code := m.Run()
	sharedMu.Lock()
	srv := shared
	sharedMu.Unlock()
	if srv != nil {
		if err := srv.dev.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "flowstatetest: stopping the shared Temporal server: %v\n", err)
		}
	}
	os.Exit(code)
}

// NewServer starts a server of the test's own and stops it when the test ends. Fields opts leaves
// zero take devserver's defaults, flowstate's search attributes among them; opts.Logger defaults to
// what LogEnv asks for. Prefer Shared, which costs nothing after the first test: a server keeps
// its memory until the process exits, even stopped.
func NewServer(t testing.TB, opts devserver.Options) *Server {
	t.Helper()
	srv, err := start(opts)
	if err != nil {
		t.Fatalf("flowstatetest: starting a Temporal server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.dev.Stop(); err != nil {
			t.Errorf("flowstatetest: stopping the Temporal server: %v", err)
		}
	})
	return srv
}

func start(opts devserver.Options) (*Server, error) {
	if opts.Logger == nil {
		logger, err := envLogger()
		if err != nil {
			return nil, err
		}
		opts.Logger = logger
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dev, err := devserver.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Server{dev: dev}, nil
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

// HostPort is the server's frontend address, as clients and the temporal CLI dial it.
func (s *Server) HostPort() string { return s.dev.HostPort() }

// Namespace is the server's first namespace, where its clients connect by default.
func (s *Server) Namespace() string { return s.dev.Namespace() }

// DevServer returns the embedded server itself: its namespaces, its Web UI address.
func (s *Server) DevServer() *devserver.Server { return s.dev }

// NewClient dials the server and closes the client when the test ends; a worker built on it
// and stopped at the end of the test (StartWorker's) stops first. Empty HostPort and Namespace
// in opts are the server's; a nil Logger sends the SDK's and flowstate's warnings and errors to
// the test's log (testsuite.Logger); a zero memo size warning is worker.MemoSizeWarning.
func (s *Server) NewClient(t testing.TB, opts client.Options) client.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = log.NewStructuredLogger(testsuite.Logger(t))
	}
	if opts.PayloadLimits.MemoSizeWarning == 0 {
		opts.PayloadLimits.MemoSizeWarning = worker.MemoSizeWarning
	}
	if opts.Namespace == "" {
		opts.Namespace = s.Namespace()
	}
	c, err := s.dev.NewClient(t.Context(), opts)
	if err != nil {
		t.Fatalf("flowstatetest: %v", err)
	}
	namespaces.Store(c, opts.Namespace)
	t.Cleanup(func() {
		namespaces.Delete(c)
		c.Close()
	})
	return c
}

// NewClient returns a client of the test binary's shared server, closed when the test ends: one
// call from a test to a real Temporal server with flowstate's search attributes.
func NewClient(t testing.TB) client.Client {
	t.Helper()
	return Shared(t).NewClient(t, client.Options{})
}

// namespaces remembers the namespace of each client NewClient made, for StartWorker.
var namespaces sync.Map // client.Client → string
