package main

import (
	"fmt"
	"io"
)

// progress writes what a command is doing, a line a step.
type progress struct{ w io.Writer }

func (p progress) step(format string, args ...any) { fmt.Fprintf(p.w, "… "+format+"\n", args...) }
func (p progress) done(format string, args ...any) { fmt.Fprintf(p.w, "✓ "+format+"\n", args...) }
func (p progress) fail(format string, args ...any) { fmt.Fprintf(p.w, "✗ "+format+"\n", args...) }
func (p progress) info(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }
