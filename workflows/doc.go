// Package workflows is flowstate's workflow-side machinery: the Temporal interceptor that turns
// the lifecycle of flow workflows, their activities and their child workflows into flowstate's
// state model (package hooks), and schedules hooks as activities.
//
// The worker package installs the interceptor; most users never name this package. Those who
// run plain Temporal workflows get its behaviour by attaching options to their workflow and
// activity types by name (worker.Options.Workflows and Activities).
//
// # The flow state machine
//
// A flow run enters Scheduled (its start time), then, for each attempt: Running (Retrying from
// the second), with its on_running hooks run before the body; then Completed, or Failed,
// TimedOut or Crashed. A failed attempt with retries left enters AwaitingRetry (no hooks), waits
// its retry delay on a durable timer and runs again. Input that is not valid JSON for the flow's
// parameters fails the run before its body: on_failure runs, on_running does not. A panic in flow
// code crashes the attempt instead of blocking the workflow. When Temporal cancels the run, it
// enters Cancelling, runs its on_cancellation hooks, then cancels its tasks in flight, and ends
// Cancelled with Temporal status Canceled. CheckTransition holds the allowed transitions.
//
// Task runs go Pending, then Running/Retrying per attempt when the workflow schedules the
// attempts (tasks with on_running hooks), and end Completed, Failed, TimedOut, Crashed (a panic,
// or no heartbeat: its worker died) or Cancelled.
//
// # Reading the state
//
// A run's History is returned by the query QueryType while the run is open (and after, with a
// worker up), and is kept in the memo under MemoKey when the run closes. The flow's current state
// name is kept in the Keyword search attribute SearchAttribute ("FlowState") when it is registered
// on the namespace: temporal workflow list --query "FlowState='Failed'".
//
// # Cost
//
// A flow without hooks adds to the history of the same plain workflow: one search attribute
// update when it starts (none when the starter set FlowState, as adapter.Flow.Start does), one
// when it ends, and the memo; its tasks cost exactly what plain activities cost. Each hook call
// costs one activity (three events).
package workflows
