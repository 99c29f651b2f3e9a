package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger hands the Temporal server's logs to a *slog.Logger. It also keeps the first
// Fatal the server logs: Temporal's services log Fatal and carry on when, for instance, a gRPC
// listener cannot bind, and Start reports that message rather than a bare timeout.
//
// Adapted from temporalio/cli (temporalcli/devserver/log.go, MIT, Copyright (c) Temporal
// Technologies Inc.).
type serverLogger struct {
	log   *slog.Logger
	fatal *fatalRecorder
}

type fatalRecorder struct {
	mu  sync.Mutex
	err error
}

func (f *fatalRecorder) record(msg string, tags []tag.Tag) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return
	}
	detail := ""
	for _, t := range tags {
		detail += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
	}
	f.err = fmt.Errorf("temporal server: %s%s", msg, detail)
}

func (f *fatalRecorder) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func newServerLogger(l *slog.Logger) serverLogger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return serverLogger{log: l, fatal: &fatalRecorder{}}
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag) { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)  { s.emit(slog.LevelInfo, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)  { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }

// DPanic and Panic are logged as errors: an embedded server must not take its process down.
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }

// Fatal is logged as an error and recorded; it does not exit.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.fatal.record(msg, tags)
	s.emit(slog.LevelError, msg, tags)
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{log: s.log.With(attrsAsAny(tags)...), fatal: s.fatal}
}

func (s serverLogger) SLog() *slog.Logger { return s.log }

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	s.log.LogAttrs(ctx, level, msg, attrs...)
}

func attrsAsAny(tags []tag.Tag) []any {
	args := make([]any, len(tags))
	for i, t := range tags {
		args[i] = slog.Any(t.Key(), t.Value())
	}
	return args
}
