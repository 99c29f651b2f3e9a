package chaosflows

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Effect is what one hook call leaves in the effects directory: one file per idempotency key,
// however many times the call is attempted.
type Effect struct {
	// Hook is the hook's registered name; Event the event it fired for.
	Hook  string `json:"hook"`
	Event string `json:"event"`
	// Key is the call's idempotency key.
	Key string `json:"key"`
	// WorkflowID and RunID identify the flow run the call is about.
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// TaskRun is the task run of a task hook, empty for a flow hook.
	TaskRun string `json:"task_run,omitempty"`
	// State and Message are the state the run entered, as the hook saw it.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Data is the data the flow attached to its run, as the hook saw it.
	Data map[string]json.RawMessage `json:"data,omitempty"`
	// Attempt is the attempt of the hook call that made the effect.
	Attempt int `json:"attempt"`
	// Local is set when that attempt ran as a local activity (a ModeAuto call's first attempt,
	// or a ModeLocal call).
	Local bool `json:"local,omitempty"`
	// PID is the worker process that made the effect.
	PID int       `json:"pid"`
	At  time.Time `json:"at"`
}

// Attempt is one line of the attempts log: every attempt of every hook call, whether or not it
// made the effect.
type Attempt struct {
	Hook       string    `json:"hook"`
	Event      string    `json:"event"`
	Key        string    `json:"key"`
	WorkflowID string    `json:"workflow_id"`
	Attempt    int       `json:"attempt"`
	PID        int       `json:"pid"`
	At         time.Time `json:"at"`
	// Local is set when the attempt ran as a local activity.
	Local bool `json:"local,omitempty"`
	// Duplicate is set when the effect of the key existed already: the attempt left no new one.
	Duplicate bool `json:"duplicate,omitempty"`
	// Failed is set when the attempt failed on purpose before making the effect.
	Failed bool `json:"failed,omitempty"`
}

const (
	effectsDir  = "effects"
	attemptsLog = "attempts.log"
	markersDir  = "markers"
)

// Record makes the effect of one hook call once: it writes the effect to a temporary file and
// links it under the name of its idempotency key, which fails when a previous attempt of the same
// call made it already. Every attempt is appended to the attempts log.
func Record(dir string, e Effect) error {
	if dir == "" {
		return errors.New("chaos: no effects directory (set " + EnvDir + ")")
	}
	eff := filepath.Join(dir, effectsDir)
	if err := os.MkdirAll(eff, 0o755); err != nil {
		return err
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(eff, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(raw)
	cerr := tmp.Close()
	defer os.Remove(tmp.Name())
	if err := errors.Join(werr, cerr); err != nil {
		return err
	}
	dup := false
	if err := os.Link(tmp.Name(), filepath.Join(eff, fileName(e.Key)+".json")); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		dup = true
	}
	return appendAttempt(dir, Attempt{
		Hook: e.Hook, Event: e.Event, Key: e.Key, WorkflowID: e.WorkflowID,
		Attempt: e.Attempt, PID: e.PID, At: e.At, Local: e.Local, Duplicate: dup,
	})
}

// RecordFailure appends an attempt that failed without making its effect to the attempts log.
func RecordFailure(dir string, a Attempt) error {
	if dir == "" {
		return errors.New("chaos: no effects directory (set " + EnvDir + ")")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	a.Failed = true
	return appendAttempt(dir, a)
}

// appendAttempt appends one line to the attempts log with a single write, which O_APPEND keeps
// whole even when several processes append at once.
func appendAttempt(dir string, a Attempt) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, attemptsLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(raw, '\n'))
	return errors.Join(werr, f.Close())
}

// Effects returns the effects recorded in dir.
func Effects(dir string) ([]Effect, error) {
	entries, err := os.ReadDir(filepath.Join(dir, effectsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Effect
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), ".") || !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, effectsDir, de.Name()))
		if err != nil {
			return nil, err
		}
		var e Effect
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("effect %s: %w", de.Name(), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Attempts returns the attempts log of dir.
func Attempts(dir string) ([]Attempt, error) {
	f, err := os.Open(filepath.Join(dir, attemptsLog))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Attempt
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a Attempt
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("attempts log: %w", err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// Marker names a file a task or hook of the chaos flow writes to tell the test where it is.
type Marker string

// The markers.
const (
	// TaskStarted: the blocking task runs (its first attempt, for the retrying task).
	TaskStarted Marker = "task-started"
	// TaskCtxDone: the blocking task saw its context end.
	TaskCtxDone Marker = "task-ctx-done"
	// HookBlocked: the blocking on_completion hook made its effect and blocks.
	HookBlocked Marker = "hook-blocked"
	// TaskReturned: the task that ignores its cancellation returned, after it.
	TaskReturned Marker = "task-returned"
	// HookFailed: the hook named by Input.FailHookOnce failed its first attempt.
	HookFailed Marker = "hook-failed"
)

// MarkerPath returns the file of marker m for the flow run with workflow ID workflowID.
func MarkerPath(dir, workflowID string, m Marker) string {
	return filepath.Join(dir, markersDir, fileName(workflowID)+"."+string(m))
}

// fileName turns a key or a workflow ID into a file name: escaped when short, its SHA-256 when
// it would pass the file system's limit of 255 bytes a name.
func fileName(s string) string {
	if name := url.PathEscape(s); len(name) <= 200 {
		return name
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Mark writes marker m with text.
func Mark(dir, workflowID string, m Marker, text string) error {
	p := MarkerPath(dir, workflowID, m)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(text+"\n"), 0o644)
}

// Marked reports whether marker m exists.
func Marked(dir, workflowID string, m Marker) bool {
	_, err := os.Stat(MarkerPath(dir, workflowID, m))
	return err == nil
}
