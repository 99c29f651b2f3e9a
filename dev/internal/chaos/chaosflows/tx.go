package chaosflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
)

// The transaction flow books three resources in one transaction; each booking is a file, and the
// booking task's on_rollback hook releases it: it records its effect once per idempotency key and
// removes the file.

// TxFlowName is the transaction flow's workflow type.
const TxFlowName = "chaos-tx"

// TxMode chooses what the third booking of the transaction flow does.
type TxMode string

// The transaction modes.
const (
	// TxFailThird: the third booking fails, without retries.
	TxFailThird TxMode = "fail-third"
	// TxBlockThird: the third booking blocks until its context ends.
	TxBlockThird TxMode = "block-third"
)

// TxInput is the transaction flow's input.
type TxInput struct {
	Mode TxMode `json:"mode"`
	// BlockRelease makes the release of this resource (1, 2) block, once its effect is made, the
	// first time it is called for the run (until the test kills its worker), marking HookBlocked.
	BlockRelease int `json:"block_release,omitempty"`
}

// Booking is the booking task's input.
type Booking struct {
	Run          string `json:"run"`
	Resource     int    `json:"resource"`
	Fail         bool   `json:"fail,omitempty"`
	Block        bool   `json:"block,omitempty"`
	BlockRelease bool   `json:"block_release,omitempty"`
}

// ReleaseHook is the registered name of the on_rollback hook.
const ReleaseHook = "chaos.tx.release"

// BookingPath returns the file that stands for a booked resource of the flow run id.
func BookingPath(dir, id string, resource int) string {
	return filepath.Join(dir, "bookings", fmt.Sprintf("%s.%d", fileName(id), resource))
}

// Release is the booking task's on_rollback hook.
var Release = hooks.NewTaskHook(ReleaseHook, func(ctx context.Context, c hooks.TaskCall) error {
	var b Booking
	if err := json.Unmarshal(c.Run.Parameters, &b); err != nil {
		return fmt.Errorf("chaos: decoding the booking: %w", err)
	}
	cause := ""
	if c.Tx != nil {
		cause = c.Tx.Cause
	}
	if err := Record(Dir(), Effect{
		Hook: ReleaseHook, Event: string(c.Hook.Event), Key: c.Hook.IdempotencyKey,
		WorkflowID: c.Run.FlowRunID, RunID: c.Run.FlowRunRunID, TaskRun: c.Run.ID,
		State: c.State.Name, Message: cause,
		Attempt: c.Hook.Attempt, PID: os.Getpid(), At: time.Now(),
	}); err != nil {
		return err
	}
	if err := os.Remove(BookingPath(Dir(), b.Run, b.Resource)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !b.BlockRelease || Marked(Dir(), b.Run, HookBlocked) {
		return nil
	}
	if err := Mark(Dir(), b.Run, HookBlocked, fmt.Sprintf("pid %d attempt %d", os.Getpid(), c.Hook.Attempt)); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("chaos: nobody killed the release within ten minutes")
	}
}, hookOptions)

// Book books a resource: it writes the resource's file, or fails or blocks as asked.
var Book = adapter.NewTask("chaos.book", func(ctx context.Context, b Booking) (int, error) {
	switch {
	case b.Fail:
		return 0, fmt.Errorf("chaos: resource %d cannot be booked", b.Resource)
	case b.Block:
		_, err := block(ctx)
		return 0, err
	}
	p := BookingPath(Dir(), b.Run, b.Resource)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	return b.Resource, os.WriteFile(p, []byte(fmt.Sprintf("resource %d of %s\n", b.Resource, b.Run)), 0o644)
}, adapter.TaskOptions{
	HeartbeatTimeout: HeartbeatTimeout,
	OnRollback:       []hooks.TaskHook{Release},
	OnCrashed:        []hooks.TaskHook{TaskOnCrashed},
})

// TxFlow books resources 1, 2 and 3 in one transaction.
var TxFlow = adapter.NewFlow(TxFlowName, func(ctx workflow.Context, in TxInput) (int, error) {
	run := workflow.GetInfo(ctx).WorkflowExecution.ID
	booked := 0
	err := adapter.Transaction(ctx, "booking", func(ctx workflow.Context, tx *adapter.Tx) error {
		for r := 1; r <= 3; r++ {
			b := Booking{Run: run, Resource: r, BlockRelease: in.BlockRelease == r}
			if r == 3 {
				b.Fail, b.Block = in.Mode == TxFailThird, in.Mode == TxBlockThird
			}
			if _, err := Book.Run(ctx, b); err != nil {
				return err
			}
			booked++
		}
		return nil
	})
	return booked, err
}, adapter.FlowOptions{
	OnCrashed: []hooks.FlowHook{FlowOnCrashed},
	OnFailure: []hooks.FlowHook{FlowOnFailure},
})
