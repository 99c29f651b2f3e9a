package testsuite

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/log"
)

// testLogger sends warnings and errors of the SDK and of flowstate to the test's log, and drops
// the rest. Lines logged after the test ended are dropped too.
func testLogger(t testing.TB) log.Logger {
	h := &tbHandler{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { h.done.Store(true) })
	return log.NewStructuredLogger(slog.New(h))
}

type tbHandler struct {
	t     testing.TB
	done  *atomic.Bool
	attrs []slog.Attr
}

func (h *tbHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *tbHandler) Handle(_ context.Context, r slog.Record) error {
	if h.done.Load() {
		return nil
	}
	line := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		line += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	if strings.HasPrefix(r.Message, "flowstate: unexpected") {
		// A transition the state machine does not allow is a flowstate bug: fail the test.
		h.t.Error(line)
		return nil
	}
	h.t.Log(line)
	return nil
}

func (h *tbHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tbHandler{t: h.t, done: h.done, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *tbHandler) WithGroup(string) slog.Handler { return h }
