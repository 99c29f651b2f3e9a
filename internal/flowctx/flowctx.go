// Package flowctx carries what the flowstate interceptors and the adapter API share through
// contexts: the running flow run (workflow side), the task call being scheduled, and the task
// run being executed (activity side).
package flowctx

import (
	"context"
	"encoding/json"
	"reflect"
	"runtime"
	"sync"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
)

type key int

const (
	runKey key = iota
	callKey
	taskRunKey
)

// Run is the flow run the workflow interceptor manages, as flow code sees it.
type Run interface {
	// Info returns the run's description, as hooks receive it.
	Info() hooks.FlowRun
	// SetData attaches data to the run.
	SetData(ctx workflow.Context, key string, value json.RawMessage) error
	// NextID returns a fresh, deterministic ID for a task or subflow run named name.
	NextID(name string) string
	// BeginTx opens a transaction named name in ctx's transaction, if any; EndTx ends it, with
	// the error of its function: it commits, or rolls back, and returns the transaction's error.
	BeginTx(ctx workflow.Context, name string) Tx
	EndTx(ctx workflow.Context, tx Tx, err error) error
}

// Tx is a transaction open in flow code: the task runs completed with a context carrying it
// belong to it.
type Tx interface {
	// ID identifies the transaction in its flow run; Name is the name the flow gave it.
	ID() string
	Name() string
	// Set attaches value (JSON) under key; Get reads it.
	Set(key string, value json.RawMessage) error
	Get(key string) (json.RawMessage, bool)
}

const txKey key = 100

// WithTx returns ctx carrying tx: task calls made with it join tx.
func WithTx(ctx workflow.Context, tx Tx) workflow.Context {
	return workflow.WithValue(ctx, txKey, tx)
}

// TxFrom returns the transaction in ctx, or nil.
func TxFrom(ctx workflow.Context) Tx {
	t, _ := ctx.Value(txKey).(Tx)
	return t
}

// WithRun returns ctx carrying run.
func WithRun(ctx workflow.Context, run Run) workflow.Context {
	return workflow.WithValue(ctx, runKey, run)
}

// RunFrom returns the flow run in ctx, or nil outside a flowstate-managed workflow.
func RunFrom(ctx workflow.Context) Run {
	r, _ := ctx.Value(runKey).(Run)
	return r
}

// Call is one task or subflow call made through the adapter API, as the outbound interceptor
// receives it with the activity or child workflow it schedules.
type Call struct {
	// ID is the task run ID (the activity ID) or the subflow's workflow ID.
	ID string
	// Task describes the task; empty for subflows.
	Task hooks.TaskInfo
	// Options holds the task's adapter.TaskOptions (typed any to keep the import graph acyclic).
	Options any
	// Copy is set for a call of a WithOptions copy, whose options are the flow code's rather than
	// the task's definition.
	Copy bool
	// Parameters is the task's input as JSON.
	Parameters json.RawMessage
	// Final is set by the interceptor to the call's final state before the call's future is ready.
	Final *hooks.State
}

// WithCall returns ctx carrying call.
func WithCall(ctx workflow.Context, call *Call) workflow.Context {
	return workflow.WithValue(ctx, callKey, call)
}

// CallFrom returns the call in ctx, or nil.
func CallFrom(ctx workflow.Context) *Call {
	c, _ := ctx.Value(callKey).(*Call)
	return c
}

// WithTaskRun returns ctx carrying the task run an activity executes.
func WithTaskRun(ctx context.Context, run hooks.TaskRun) context.Context {
	return context.WithValue(ctx, taskRunKey, run)
}

// TaskRunFrom returns the task run in ctx.
func TaskRunFrom(ctx context.Context) (hooks.TaskRun, bool) {
	r, ok := ctx.Value(taskRunKey).(hooks.TaskRun)
	return r, ok
}

// RetryCondition is a task's retry condition (adapter.TaskOptions.RetryCondition).
type RetryCondition = func(ctx context.Context, state hooks.State, err error) (bool, error)

var conditions sync.Map // name → RetryCondition

// RegisterCondition makes cond findable by the name it returns: the name of its function, which
// is the same in every process of one binary. A task call names its retry condition in its header
// (the condition of a WithOptions copy, which the activity side cannot otherwise know); the
// activity side finds it here. "" stands for no condition.
func RegisterCondition(cond RetryCondition) string {
	if cond == nil {
		return ""
	}
	name := runtime.FuncForPC(reflect.ValueOf(cond).Pointer()).Name()
	conditions.Store(name, cond)
	return name
}

// Condition returns the retry condition registered under name.
func Condition(name string) (RetryCondition, bool) {
	v, ok := conditions.Load(name)
	if !ok {
		return nil, false
	}
	return v.(RetryCondition), true
}
