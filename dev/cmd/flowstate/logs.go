package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/api/serviceerror"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LogLevelEnv names the environment variable that sets the default of every command's
// --log-level.
const LogLevelEnv = "FLOWSTATE_LOG_LEVEL"

// logLevel is the --log-level flag of a command: the lowest level of log lines shown.
type logLevel struct {
	def slog.Level
	lvl slog.Level
	set bool
}

// logLevelFlag adds --log-level to fs; without it, the level is $FLOWSTATE_LOG_LEVEL, else def.
func logLevelFlag(fs *flag.FlagSet, def slog.Level) *logLevel {
	l := &logLevel{def: def}
	fs.Var(l, "log-level", fmt.Sprintf("show log lines from this `level` up: debug, info, warn or error (default $%s, else %s)",
		LogLevelEnv, strings.ToLower(def.String())))
	return l
}

func (l *logLevel) String() string {
	if l == nil {
		return ""
	}
	return strings.ToLower(l.lvl.String())
}

func (l *logLevel) Set(s string) error {
	lvl, err := parseLogLevel(s)
	if err != nil {
		return err
	}
	l.lvl, l.set = lvl, true
	return nil
}

// Level returns the level given by the flag, else by $FLOWSTATE_LOG_LEVEL, else the default.
func (l *logLevel) Level() (slog.Level, error) {
	if l.set {
		return l.lvl, nil
	}
	if env := os.Getenv(LogLevelEnv); env != "" {
		lvl, err := parseLogLevel(env)
		if err != nil {
			return 0, usagef("$%s: %v", LogLevelEnv, err)
		}
		return lvl, nil
	}
	return l.def, nil
}

// newLogger returns the logger of a command: slog's text format on w, from level up. flowstate,
// the Temporal SDK (through sdkLogger) and the examples' hooks all log through it.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// sdkLogger adapts l for the Temporal SDK, with the levels of some SDK messages set to what
// happened (see sdkLevel).
func sdkLogger(l *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(sdkHandler{l.Handler()}))
}

// sdkHandler lowers the level of SDK log records whose level overstates what happened. It never
// raises one: the SDK asks Enabled with its own level before it builds a record.
type sdkHandler struct{ slog.Handler }

func (h sdkHandler) Handle(ctx context.Context, r slog.Record) error {
	if lvl := sdkLevel(r); lvl < r.Level {
		r.Level = lvl
		if !h.Handler.Enabled(ctx, lvl) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h sdkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return sdkHandler{h.Handler.WithAttrs(attrs)}
}

func (h sdkHandler) WithGroup(name string) slog.Handler { return sdkHandler{h.Handler.WithGroup(name)} }

// sdkLevel returns the level an SDK log record deserves:
//   - an activity that ended because it was cancelled (its flow run cancelled, its worker
//     stopping, Ctrl-C) did what it was asked: Debug, for "Activity error.", "RecordActivityHeartbeat
//     with error" and "Task processing failed with error";
//   - an activity whose run closed under it (terminated, say) finds out at its next heartbeat:
//     Info;
//   - any other failed activity attempt is a Warn, not an Error: flowstate records it in the run's
//     state history (a task's AwaitingRetry, Failed or Crashed state, a hook's outcome), where its
//     retry and its hooks are decided.
func sdkLevel(r slog.Record) slog.Level {
	switch r.Message {
	case "Activity error.", "RecordActivityHeartbeat with error", "Task processing failed with error":
	default:
		return r.Level
	}
	var err error
	r.Attrs(func(a slog.Attr) bool {
		if strings.EqualFold(a.Key, "error") {
			err, _ = a.Value.Any().(error)
			return false
		}
		return true
	})
	var notFound *serviceerror.NotFound
	switch {
	case isCancellation(err):
		return slog.LevelDebug
	case errors.As(err, &notFound):
		return min(r.Level, slog.LevelInfo)
	}
	return min(r.Level, slog.LevelWarn)
}

// isCancellation reports whether err says that something was cancelled: a context, an activity, a
// gRPC call (a closing connection included).
func isCancellation(err error) bool {
	if err == nil {
		return false
	}
	var canceled *serviceerror.Canceled
	if errors.Is(err, context.Canceled) || temporal.IsCanceledError(err) || errors.As(err, &canceled) {
		return true
	}
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Canceled
}

// parseLogLevel parses a level given on the command line.
func parseLogLevel(s string) (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q: want debug, info, warn or error", s)
	}
	return lvl, nil
}
