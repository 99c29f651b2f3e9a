// Package tripbooking is a saga: a flow books a flight, a hotel and a car in one transaction
// (adapter.Transaction). Each booking task's on_rollback hook cancels its booking and its
// on_commit hook confirms it, so that a trip is never left half booked: when the car cannot be
// booked, the hotel and the flight are cancelled, in that order; when the run is cancelled, or
// terminated on the server, likewise. Each booking is a file in the examples' directory, named
// after the flow run and the resource; confirming or cancelling it renames it, which a retried
// hook call finds done: its effect happens once.
package tripbooking

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/crashcleanup"
	"github.com/flowstate/flowstate/dev/examples/internal/effects"
	"github.com/flowstate/flowstate/hooks"
)

// Name names the example in the demo.
const Name = "trip-booking"

// Trip is the flow's input: who travels, and which booking fails (none, "flight", "hotel" or
// "car"), to see the saga roll back.
type Trip struct {
	Traveller string `json:"traveller"`
	Fail      string `json:"fail,omitempty"`
	// Wait makes the car booking wait this many seconds, to cancel or terminate the run meanwhile.
	Wait int `json:"wait,omitempty"`
}

// Booking asks for one resource of a trip.
type Booking struct {
	Run      string `json:"run"`
	Resource string `json:"resource"`
	Fail     bool   `json:"fail,omitempty"`
	Wait     int    `json:"wait,omitempty"`
}

// Path returns the file standing for a booking in state ("booked", "confirmed", "cancelled").
func Path(run, resource, state string) string {
	safe := strings.NewReplacer("/", "_", "\\", "_").Replace(run)
	return filepath.Join(crashcleanup.Dir(), fmt.Sprintf("%s.%s.%s", safe, resource, state))
}

// Book books a resource: its booked file.
var Book = adapter.NewTask("book", func(ctx context.Context, b Booking) (string, error) {
	if b.Wait > 0 {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-waitFor(b.Wait):
		}
	}
	if b.Fail {
		return "", fmt.Errorf("no %s available", b.Resource)
	}
	path := Path(b.Run, b.Resource, "booked")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(b.Resource+" for "+b.Run+"\n"), 0o644); err != nil {
		return "", err
	}
	effects.Printf(Name, "booked %s", b.Resource)
	return b.Resource, nil
}, adapter.TaskOptions{
	OnCommit:   []hooks.TaskHook{Confirm},
	OnRollback: []hooks.TaskHook{Cancel},
})

// move renames a booking's file from one state to another; a booking already moved is fine, so a
// retried hook has its effect once.
func move(c hooks.TaskCall, to string) (string, error) {
	var b Booking
	if err := jsonDecode(c.Run.Parameters, &b); err != nil {
		return "", err
	}
	from := Path(b.Run, b.Resource, "booked")
	err := os.Rename(from, Path(b.Run, b.Resource, to))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(Path(b.Run, b.Resource, to)); serr == nil {
			return b.Resource, nil // done by an earlier attempt of this call
		}
	}
	return b.Resource, err
}

// Confirm is the on_commit hook: the booking is confirmed.
var Confirm = hooks.NewTaskHook("confirm-booking", func(ctx context.Context, c hooks.TaskCall) error {
	resource, err := move(c, "confirmed")
	if err == nil {
		var who string
		_, _ = c.Tx.Lookup("traveller", &who)
		effects.Printf(Name, "confirmed %s for %s", resource, who)
	}
	return err
})

// Cancel is the on_rollback hook: the booking is cancelled.
var Cancel = hooks.NewTaskHook("cancel-booking", func(ctx context.Context, c hooks.TaskCall) error {
	resource, err := move(c, "cancelled")
	if err == nil {
		effects.Printf(Name, "cancelled %s (%s)", resource, c.Tx.Cause)
	}
	return err
})

// Flow books a trip: flight, hotel and car, in one transaction.
var Flow = adapter.NewFlow("book-trip", func(ctx workflow.Context, trip Trip) (string, error) {
	run := workflow.GetInfo(ctx).WorkflowExecution.ID
	err := adapter.Transaction(ctx, "trip", func(ctx workflow.Context, tx *adapter.Tx) error {
		if err := tx.Set("traveller", trip.Traveller); err != nil {
			return err
		}
		for _, resource := range []string{"flight", "hotel", "car"} {
			b := Booking{Run: run, Resource: resource, Fail: trip.Fail == resource}
			if resource == "car" {
				b.Wait = trip.Wait
			}
			if _, err := Book.Run(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "trip booked for " + trip.Traveller, nil
})
