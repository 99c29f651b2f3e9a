// Package names holds the names flowstate uses on Temporal: query, signal, memo, search
// attributes, header keys and activity types. The public packages re-export the ones users type.
package names

import (
	"crypto/sha256"
	"encoding/hex"
)

// Reserved prefixes the names of flowstate's own workflow and activity types, queries, signals
// and memo fields: flows and tasks may not take names that start with it, so that users can hide
// flowstate's workflows with WorkflowType NOT STARTS_WITH 'flowstate.'.
const Reserved = "flowstate."

const (
	// Query is the query type that returns a flow run's state history.
	Query = "flowstate.states"
	// MemoHistory is the memo key under which a closed flow run keeps its state history.
	MemoHistory = "flowstate.states"
	// MemoArchive is the memo key under which a closed flow run whose state history does not fit
	// in MemoHistory keeps all of it, as gzip-compressed JSON, when that fits.
	MemoArchive = "flowstate.states.gz"
	// MemoData is the memo key under which a flow run of flowstate v0.1 kept the data attached
	// to it, all keys in one value.
	MemoData = "flowstate.data"
	// MemoDataPrefix prefixes the memo key of each value attached to a flow run: the key
	// "flowstate.data.job" holds the value attached under "job".
	MemoDataPrefix = "flowstate.data."
	// MemoChain is the memo key under which a flow run that continues as new hands its state to
	// the next run of the chain.
	MemoChain = "flowstate.chain"
	// RecordFlowPlan is the ID of the marker holding a flow run's plan.
	RecordFlowPlan = "flowstate.plan"
	// RecordTaskPlan prefixes the ID of the marker holding the plan of a task, by name.
	RecordTaskPlan = "flowstate.plan.task/"
	// RecordCallPlan prefixes the ID of the marker holding the plan of one task call, by task run ID.
	RecordCallPlan = "flowstate.plan.call/"
	// SignalData is the signal a task sends to attach data to its flow run.
	SignalData = "flowstate.data"
	// SignalTxData is the signal a task sends to attach data to its transaction.
	SignalTxData = "flowstate.tx-data"
	// QueryTx is the query a task reads its transaction with.
	QueryTx = "flowstate.tx"
	// SAState is the Keyword search attribute holding a flow run's current state name.
	SAState = "FlowState"
	// HookActivity is the activity type that runs hooks.
	HookActivity = "flowstate.hook"
	// HeaderAttempt is the header carrying a task attempt that the workflow schedules itself.
	HeaderAttempt = "flowstate-attempt"
)

// Error types flowstate gives the Temporal application errors it creates.
const (
	ErrTypePanic        = "flowstate.Panic"
	ErrTypeCrashed      = "flowstate.Crashed"
	ErrTypeTimedOut     = "flowstate.TimedOut"
	ErrTypeInvalidInput = "flowstate.InvalidInput"
)

// CrashHandlerID returns the workflow ID of the crash handler of one dead flow run: the workflow
// that runs its on_crashed hooks after it was terminated or timed out on the server. A workflow ID
// longer than 200 bytes is replaced by its SHA-256, so that the handler's ID stays within the
// server's limit on IDs (1000 bytes by default).
func CrashHandlerID(workflowID, runID string) string {
	if len(workflowID) > maxPlainID {
		sum := sha256.Sum256([]byte(workflowID))
		workflowID = "sha256-" + hex.EncodeToString(sum[:])
	}
	return "flowstate-crashed/" + workflowID + "/" + runID
}

// maxPlainID is the longest workflow ID a crash handler's ID contains as it is.
const maxPlainID = 200
