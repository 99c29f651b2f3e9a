package testsuite

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/log"
)

// testLogger is Logger as the SDK takes it.
func testLogger(t testing.TB) log.Logger { return log.NewStructuredLogger(Logger(t)) }

// Logger returns the logger an Env logs to, for tests that run flows elsewhere, such as on a real
// server (give it to the client with log.NewStructuredLogger): it sends warnings and errors of the
// SDK and of flowstate to the test's log, and drops the rest, and what is logged after the test
// ended. A state transition that flowstate does not allow, a flowstate bug, fails the test.
func Logger(t testing.TB) *slog.Logger {
	h := &tbHandler{t: t, gate: &testGate{}}
	t.Cleanup(h.gate.close)
	return slog.New(h)
}

// testGate keeps lines from the test's log once the test has ended, when the SDK's goroutines may
// still log but testing.T must not be used.
type testGate struct {
	mu     sync.Mutex
	closed bool
}

func (g *testGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

type tbHandler struct {
	t     testing.TB
	gate  *testGate
	attrs []slog.Attr
}

func (h *tbHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *tbHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		line += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	h.gate.mu.Lock()
	defer h.gate.mu.Unlock()
	if h.gate.closed {
		return nil
	}
	if strings.HasPrefix(r.Message, "flowstate: unexpected") {
		// A transition the state machine does not allow is a flowstate bug: fail the test.
		h.t.Error(line)
		return nil
	}
	h.t.Log(line)
	return nil
}

func (h *tbHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tbHandler{t: h.t, gate: h.gate, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *tbHandler) WithGroup(string) slog.Handler { return h }
