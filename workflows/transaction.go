package workflows

import (
	"encoding/json"
	"fmt"
	"slices"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
)

// A transaction groups task runs of a flow run (adapter.Transaction): when it commits, the
// on_commit hooks of the task runs that completed in it run in the order they completed; when it
// rolls back, their on_rollback hooks run in the reverse order. Each hook call is durable, with
// its own retries and idempotency key (the same as a crash handler would use), so that the saga's
// compensations happen once. A transaction still open when the run crashes (a panic) rolls back
// before the run goes on; one open when the run is terminated or times out on the server is
// rolled back by the run's crash handler, from what the QueryCrash query tells it.
type transaction struct {
	id, name string
	parent   *transaction
	data     map[string]json.RawMessage
	size     int
	// members are the task runs that completed in the transaction, in order of completion, those
	// of committed nested transactions included.
	members []txMember
	// failed is the first state Failed or Crashed a task run of the transaction ended in.
	failed *hooks.State
	ended  bool
}

// txMember is a task run that completed in a transaction.
type txMember struct {
	call   *taskCall
	state  hooks.State
	result json.RawMessage
}

var _ flowctx.Tx = (*transaction)(nil)

func (t *transaction) ID() string   { return t.id }
func (t *transaction) Name() string { return t.name }

func (t *transaction) Set(key string, value json.RawMessage) error {
	size := t.size + len(value) - len(t.data[key])
	if size > adapter.MaxTxData {
		return fmt.Errorf("%w: setting %q takes the data of transaction %s to %d bytes, more than %d",
			adapter.ErrTxDataTooLarge, key, t.id, size, adapter.MaxTxData)
	}
	if t.data == nil {
		t.data = map[string]json.RawMessage{}
	}
	t.data[key] = value
	t.size = size
	return nil
}

func (t *transaction) Get(key string) (json.RawMessage, bool) {
	v, ok := t.data[key]
	return v, ok
}

// info describes the transaction as its hooks see it.
func (t *transaction) info(cause string) *hooks.Transaction {
	info := &hooks.Transaction{ID: t.id, Name: t.name, Cause: cause}
	if t.parent != nil {
		info.Parent = t.parent.id
	}
	if len(t.data) > 0 {
		info.Data = make(map[string]json.RawMessage, len(t.data))
		for k, v := range t.data {
			info.Data[k] = v
		}
	}
	return info
}

// BeginTx implements flowctx.Run.
func (r *flowRun) BeginTx(ctx workflow.Context, name string) flowctx.Tx {
	_, n := r.in.nextID("tx/" + name)
	tx := &transaction{id: fmt.Sprintf("%s#%d", name, n), name: name}
	if parent, ok := flowctx.TxFrom(ctx).(*transaction); ok && !parent.ended {
		tx.parent = parent
	}
	r.txs = append(r.txs, tx)
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	st := hooks.NewState(hooks.Running, workflow.Now(ctx))
	if tx.parent != nil {
		st.Message = "within " + tx.parent.id
	}
	r.rec.runEntry(hctx, hooks.KindTransaction, tx.id, name, st)
	return tx
}

// EndTx implements flowctx.Run: the transaction commits, or rolls back, and EndTx returns its error.
func (r *flowRun) EndTx(ctx workflow.Context, ftx flowctx.Tx, fnErr error) error {
	tx := ftx.(*transaction)
	hctx, _ := workflow.NewDisconnectedContext(ctx)
	err := fnErr
	cause := ""
	switch {
	case fnErr != nil:
		cause = classify.Message(fnErr)
	case tx.failed != nil:
		cause = "a task in it ended " + tx.failed.String()
		err = &adapter.RolledBackError{Tx: tx.id, Cause: *tx.failed}
	case ctx.Err() != nil:
		cause = "the run was cancelled"
		err = temporal.NewCanceledError()
	}
	if cause == "" {
		r.commit(hctx, tx)
		return nil
	}
	r.rollback(hctx, tx, cause)
	return err
}

// commit ends a transaction whose function succeeded: a nested one hands its task runs to the
// transaction it is part of; an outermost one runs their on_commit hooks, in order.
func (r *flowRun) commit(hctx workflow.Context, tx *transaction) {
	r.closeTx(tx)
	st := hooks.NewState(hooks.Completed, workflow.Now(hctx))
	st.Name = hooks.NameCommitted
	if p := tx.parent; p != nil && !p.ended {
		p.members = append(p.members, tx.members...)
		st.Message = "into " + p.id
		r.rec.runEntry(hctx, hooks.KindTransaction, tx.id, tx.name, st)
		return
	}
	info := tx.info("")
	for _, m := range tx.members {
		m.call.runTxHooks(hctx, hooks.OnCommit, m, info)
	}
	r.rec.runEntry(hctx, hooks.KindTransaction, tx.id, tx.name, st)
}

// rollback undoes what the task runs of a transaction did: their on_rollback hooks, in the
// reverse order of completion.
func (r *flowRun) rollback(hctx workflow.Context, tx *transaction, cause string) {
	r.closeTx(tx)
	info := tx.info(cause)
	for _, m := range slices.Backward(tx.members) {
		m.call.runTxHooks(hctx, hooks.OnRollback, m, info)
	}
	st := hooks.NewState(hooks.Failed, workflow.Now(hctx))
	st.Name, st.Message = hooks.NameRolledBack, cause
	r.rec.runEntry(hctx, hooks.KindTransaction, tx.id, tx.name, st)
}

// rollbackOpen rolls back the transactions an attempt left open (it crashed: a panic unwound
// them), innermost first.
func (r *flowRun) rollbackOpen(hctx workflow.Context, cause string) {
	for len(r.txs) > 0 {
		r.rollback(hctx, r.txs[len(r.txs)-1], cause)
	}
}

func (r *flowRun) closeTx(tx *transaction) {
	tx.ended = true
	if i := slices.Index(r.txs, tx); i >= 0 {
		r.txs = slices.Delete(r.txs, i, i+1)
	}
}

// joinTx records, once a task run of a transaction ended, what it means for the transaction: a
// completed run becomes one of its members, a failed or crashed one fails it.
func (t *taskCall) joinTx(ctx workflow.Context, st hooks.State, raw converter.RawValue) {
	tx := t.tx
	if tx == nil {
		if t.run != nil && (len(t.plan.Hooks[hooks.OnCommit]) > 0 || len(t.plan.Hooks[hooks.OnRollback]) > 0) {
			t.run.warnOutsideTx(ctx, t.typ)
		}
		return
	}
	if tx.ended {
		workflow.GetLogger(ctx).Warn("flowstate: a task run ended after its transaction did; it is not part of it",
			"task_run", t.info.ID, "transaction", tx.id)
		return
	}
	switch st.Type {
	case hooks.Completed:
		m := txMember{call: t, state: st}
		if p := raw.Payload(); p != nil && string(p.GetMetadata()[converter.MetadataEncoding]) == converter.MetadataEncodingJSON {
			m.result = p.GetData()
		}
		tx.members = append(tx.members, m)
	case hooks.Failed, hooks.Crashed:
		if tx.failed == nil {
			tx.failed = &st
		}
	}
}

// warnOutsideTx says once, for a task with transaction hooks, that a run of it completed outside
// any transaction: nothing will commit or roll it back.
func (r *flowRun) warnOutsideTx(ctx workflow.Context, task string) {
	if r.warnedTx == nil {
		r.warnedTx = map[string]bool{}
	}
	if r.warnedTx[task] {
		return
	}
	r.warnedTx[task] = true
	workflow.GetLogger(ctx).Warn("flowstate: a task with on_commit or on_rollback hooks ran outside any transaction; "+
		"they run only for task runs in an adapter.Transaction", "task", task)
}

// runTxHooks calls a transaction member's hooks for on_commit or on_rollback, recording each
// outcome under the task run.
func (t *taskCall) runTxHooks(ctx workflow.Context, e hooks.Event, m txMember, tx *hooks.Transaction) {
	for i, spec := range t.plan.Hooks[e] {
		info := t.info
		info.Attempt, info.Result = m.state.Attempt, m.result
		inv := hooks.Invocation{
			Hook: spec.Name, Event: e, Args: spec.Args, State: m.state,
			Key:  hookKey(info.FlowRunID, info.FlowRunRunID, info.ID, e, m.state.Attempt, i),
			Task: &t.task, TaskRun: &info, Tx: tx,
		}
		err := t.o.in.root.callHook(ctx, spec, inv, workflow.GetInfo(ctx).TaskQueueName)
		if t.run != nil {
			t.run.rec.hookEntry(ctx, hooks.KindTask, t.info.ID, t.typ, inv, err)
		}
	}
}

// handleTxDataSignal attaches the data a task sent (adapter.SetTxDataFromTask) to its transaction.
func (r *flowRun) handleTxDataSignal(ctx workflow.Context, input *interceptor.HandleSignalInput) error {
	var sig adapter.TxDataSignal
	ch := workflow.NewBufferedChannel(ctx, 1)
	ch.SendAsync(input.Arg)
	if !ch.ReceiveAsync(&sig) {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring a transaction data signal that does not decode")
		return nil
	}
	tx := r.txOf[sig.TaskRun]
	if tx == nil || tx.ended || len(sig.Value) > adapter.MaxTxDataSize {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring transaction data of a task run in no open transaction, or over the size limit",
			"task_run", sig.TaskRun, "key", sig.Key)
		return nil
	}
	if err := tx.Set(sig.Key, sig.Value); err != nil {
		workflow.GetLogger(ctx).Warn("flowstate: ignoring transaction data", "task_run", sig.TaskRun, "error", err)
	}
	return nil
}

// txView answers the QueryTx query: the transaction a task run belongs to.
func (r *flowRun) txView(taskRun string) (hooks.Transaction, error) {
	if tx := r.txOf[taskRun]; tx != nil {
		return *tx.info(""), nil
	}
	return hooks.Transaction{}, nil
}

// OpenTx is a transaction a dead run left open, as its crash handler rolls it back: its task
// runs that completed, with their on_rollback hooks.
type OpenTx struct {
	Tx      hooks.Transaction `json:"tx"`
	Members []OpenTxMember    `json:"members,omitempty"`
}

// OpenTxMember is a task run that completed in an open transaction.
type OpenTxMember struct {
	Task     hooks.TaskInfo `json:"task"`
	Run      hooks.TaskRun  `json:"run"`
	State    hooks.State    `json:"state"`
	Rollback []hookSpec     `json:"rollback,omitempty"`
}

// openTxs describes the run's open transactions, in the order they were opened.
func (r *flowRun) openTxs() []OpenTx {
	var out []OpenTx
	for _, tx := range r.txs {
		o := OpenTx{Tx: *tx.info("")}
		for _, m := range tx.members {
			run := m.call.info
			run.Attempt, run.Result = m.state.Attempt, m.result
			o.Members = append(o.Members, OpenTxMember{Task: m.call.task, Run: run, State: m.state, Rollback: m.call.plan.Hooks[hooks.OnRollback]})
		}
		out = append(out, o)
	}
	return out
}

// rollbackDead rolls back, from a crash handler, the transactions a dead run left open: innermost
// first, each one's task runs in the reverse order of completion, with the idempotency keys the
// run itself would have used.
func (i *Interceptor) rollbackDead(ctx workflow.Context, rec *recorder, dead CrashedRun, txs []OpenTx, cause string) {
	for _, o := range slices.Backward(txs) {
		tx := o.Tx
		tx.Cause = cause
		for _, m := range slices.Backward(o.Members) {
			for idx, spec := range m.Rollback {
				run := m.Run
				inv := hooks.Invocation{
					Hook: spec.Name, Event: hooks.OnRollback, Args: spec.Args, State: m.State,
					Key:  hookKey(run.FlowRunID, run.FlowRunRunID, run.ID, hooks.OnRollback, m.State.Attempt, idx),
					Task: &m.Task, TaskRun: &run, Tx: &tx,
				}
				err := i.callHook(ctx, spec, inv, dead.TaskQueue)
				rec.hookEntry(ctx, hooks.KindTask, run.ID, m.Task.Name, inv, err)
			}
		}
		st := hooks.NewState(hooks.Failed, workflow.Now(ctx))
		st.Name, st.Message = hooks.NameRolledBack, cause
		rec.runEntry(ctx, hooks.KindTransaction, tx.ID, tx.Name, st)
	}
}
