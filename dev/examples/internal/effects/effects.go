// Package effects records what the examples' hooks did, so that the demo can show it and tests can
// check it. Every line is also logged.
package effects

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Line is one effect of a hook.
type Line struct {
	Example string
	Text    string
	At      time.Time
}

var (
	mu    sync.Mutex
	lines []Line
)

// Printf records an effect of the named example and logs it.
func Printf(example, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	mu.Lock()
	lines = append(lines, Line{Example: example, Text: text, At: time.Now()})
	mu.Unlock()
	slog.Info("hook effect", "example", example, "effect", text)
}

// Of returns the effects recorded for the named example, oldest first.
func Of(example string) []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for _, l := range lines {
		if l.Example == example {
			out = append(out, l.Text)
		}
	}
	return out
}

// Reset forgets every recorded effect.
func Reset() {
	mu.Lock()
	defer mu.Unlock()
	lines = nil
}
