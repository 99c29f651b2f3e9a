package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/flowctx"
	"github.com/flowstate/flowstate/internal/names"
)

// Tx is a transaction of task runs, open in flow code: Prefect's transaction, made durable. The
// tasks called with its context (the one Transaction gives its function) and completed belong to
// it. When the transaction commits, their on_commit hooks run, in the order they completed; when
// it rolls back, their on_rollback hooks run, in the reverse order, each a durable hook call with
// its own retries and idempotency key: the saga pattern.
type Tx struct {
	tx flowctx.Tx
}

// MaxTxDataSize bounds the JSON of one value set on a transaction; MaxTxData bounds all of them.
const (
	MaxTxDataSize = 4 << 10
	MaxTxData     = 64 << 10
)

// ErrTxDataTooLarge is wrapped by the error of a transaction value over MaxTxDataSize, or of a
// value that takes the transaction's data over MaxTxData.
var ErrTxDataTooLarge = errors.New("flowstate: transaction data too large")

// RolledBackError is the error of a transaction that rolled back because a task in it failed,
// although its function returned nil (it handled the task's error, with RunState say). A
// transaction whose function returned an error returns that error.
type RolledBackError struct {
	// Tx is the transaction's ID.
	Tx string
	// Cause is the failed task's state.
	Cause hooks.State
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("flowstate: transaction %s rolled back: a task in it ended %s", e.Tx, e.Cause)
}

// ID returns the transaction's ID in its flow run, for example "book-trip#1".
func (t *Tx) ID() string { return t.tx.ID() }

// Name returns the name the flow gave the transaction.
func (t *Tx) Name() string { return t.tx.Name() }

// Set attaches value, as JSON, to the transaction under key: its on_commit and on_rollback hooks
// read it (hooks.TaskCall.Tx), and so do its tasks (TxData). It travels in workflow history:
// keep it small and never secret.
func (t *Tx) Set(key string, value any) error {
	raw, err := encodeTxData(key, value)
	if err != nil {
		return err
	}
	return t.tx.Set(key, raw)
}

// Get decodes the value set under key into ptr; it reports false when nothing is.
func (t *Tx) Get(key string, ptr any) (bool, error) {
	raw, ok := t.tx.Get(key)
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, ptr); err != nil {
		return true, fmt.Errorf("flowstate: transaction data %q: %w", key, err)
	}
	return true, nil
}

func encodeTxData(key string, value any) (json.RawMessage, error) {
	if key == "" {
		return nil, errors.New("flowstate: transaction data needs a key")
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("flowstate: transaction data %q is not serialisable as JSON: %w", key, err)
	}
	if len(raw) > MaxTxDataSize {
		return nil, fmt.Errorf("%w: %q is %d bytes, more than %d", ErrTxDataTooLarge, key, len(raw), MaxTxDataSize)
	}
	return raw, nil
}

// Transaction runs fn as a transaction named name: the task runs that complete with the context
// fn receives belong to it. Transactions nest: one opened with a context of another is part of it.
//
//   - fn returns nil and no task in it failed: the transaction commits. The outermost transaction
//     runs the on_commit hooks of its tasks, its nested transactions' included, in the order they
//     completed; a nested one hands its tasks to the transaction it is part of.
//   - fn returns an error, a task in it ended Failed or Crashed (even if fn went on), or the run
//     is cancelled: the transaction rolls back. The on_rollback hooks of the tasks that completed
//     in it run, in the reverse order of completion (a nested transaction before the one it is
//     part of), each with its own retries; a hook that gives up is recorded and the others still
//     run. Then Transaction returns fn's error, or a *RolledBackError.
//   - The run is terminated or times out on the server while the transaction is open: the crash
//     handler rolls it back, with the same idempotency keys.
//
// The state history records each transaction (Kind "transaction": Running, then Committed or
// RolledBack) and each hook call. Outside a flowstate-managed flow, Transaction returns
// ErrNotInFlow without running fn.
func Transaction(ctx workflow.Context, name string, fn func(ctx workflow.Context, tx *Tx) error) error {
	run := flowctx.RunFrom(ctx)
	if run == nil {
		return ErrNotInFlow
	}
	if name == "" {
		return errors.New("flowstate: a transaction needs a name")
	}
	tx := run.BeginTx(ctx, name)
	err := fn(flowctx.WithTx(ctx, tx), &Tx{tx: tx})
	return run.EndTx(ctx, tx, err)
}

// TxDataSignal is the payload of the signal SetTxDataFromTask sends.
type TxDataSignal struct {
	TaskRun string          `json:"task_run"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
}

// SetTxDataFromTask attaches value to the transaction the running task belongs to, as Tx.Set does
// from flow code. It signals the flow's workflow, so the data is recorded even if the task crashes
// afterwards; a task outside any transaction gets an error.
func SetTxDataFromTask(ctx context.Context, key string, value any) error {
	raw, err := encodeTxData(key, value)
	if err != nil {
		return err
	}
	if !activity.IsActivity(ctx) {
		return errors.New("flowstate: SetTxDataFromTask called outside a task")
	}
	info := activity.GetInfo(ctx)
	err = activity.GetClient(ctx).SignalWorkflow(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID,
		names.SignalTxData, TxDataSignal{TaskRun: info.ActivityID, Key: key, Value: raw})
	if err != nil {
		return fmt.Errorf("flowstate: attaching %q to the transaction of task run %s: %w", key, info.ActivityID, err)
	}
	return nil
}

// TxData decodes, into ptr, the value set under key on the transaction the running task belongs
// to. It asks the flow's workflow (a query, which costs no history); ok is false when nothing is
// set under key, or the task is in no transaction.
func TxData(ctx context.Context, key string, ptr any) (ok bool, err error) {
	if !activity.IsActivity(ctx) {
		return false, errors.New("flowstate: TxData called outside a task")
	}
	info := activity.GetInfo(ctx)
	v, err := activity.GetClient(ctx).QueryWorkflow(ctx, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, names.QueryTx, info.ActivityID)
	if err != nil {
		return false, fmt.Errorf("flowstate: reading the transaction of task run %s: %w", info.ActivityID, err)
	}
	var tx hooks.Transaction
	if err := v.Get(&tx); err != nil {
		return false, fmt.Errorf("flowstate: decoding the transaction of task run %s: %w", info.ActivityID, err)
	}
	return tx.Lookup(key, ptr)
}
