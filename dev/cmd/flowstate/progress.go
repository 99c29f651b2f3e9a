package main

import (
	"fmt"
	"io"
	"log/slog"

	sdklog "go.temporal.io/sdk/log"
)

// progress writes what a command is doing, a line a step.
type progress struct{ w io.Writer }

func (p progress) step(format string, args ...any) { fmt.Fprintf(p.w, "… "+format+"\n", args...) }
func (p progress) done(format string, args ...any) { fmt.Fprintf(p.w, "✓ "+format+"\n", args...) }
func (p progress) fail(format string, args ...any) { fmt.Fprintf(p.w, "✗ "+format+"\n", args...) }
func (p progress) info(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }

// sdkLogger adapts an slog logger for the Temporal SDK.
func sdkLogger(l *slog.Logger) sdklog.Logger { return sdklog.NewStructuredLogger(l) }
