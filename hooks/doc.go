// Package hooks is flowstate's state model and its state change hooks: Prefect's flow and task
// hooks (on_running, on_completion, on_failure, on_cancellation, on_crashed) for Temporal.
//
// # States
//
// A flow run or task run is always in a State: a StateType (SCHEDULED, PENDING, RUNNING, PAUSED,
// CANCELLING, and the terminal COMPLETED, FAILED, CANCELLED, CRASHED) refined by a name:
// AwaitingRetry is a SCHEDULED state between attempts, Retrying a RUNNING state after the first
// attempt, TimedOut a FAILED state. A state carries a message (the error text for Failed and
// Crashed), a workflow timestamp, the attempt (Prefect's run_count) and the error's type. Every
// transition of a flow run and of its task runs is kept, in order, with the outcome of each hook
// call, in the run's History.
//
// # Hooks
//
// A hook is a named Go function. NewFlowHook and NewTaskHook define hooks without arguments;
// NewFlowHookWithArgs and NewTaskHookWithArgs define hooks that take arguments bound when they
// are attached (Prefect's functools.partial), which travel in workflow history as JSON and so
// must be serialisable and never secret. Attach hooks with adapter.FlowOptions and
// adapter.TaskOptions.
//
// The rules, from Prefect unless marked:
//   - on_running fires when a run enters RUNNING, once per attempt, before the body runs;
//     on_completion, on_failure, on_cancellation and on_crashed when it enters COMPLETED, FAILED
//     (after the last retry; TimedOut included), CANCELLING and CRASHED. No hook fires for
//     AwaitingRetry.
//   - Several hooks of one event run in the order they were attached, one after another.
//   - A hook that still fails after its retries is logged and recorded in the run's history; the
//     run's state does not change and the hooks after it still run.
//   - Durable (beyond Prefect): every hook call is a Temporal activity (type "flowstate.hook")
//     scheduled from workflow code, with its own retry policy (Options; DefaultRetryPolicy when
//     none is set), on a context that survives cancellation of the run. Short hooks may run as
//     local activities instead (ModeLocal): one history event each, as durable, run by the
//     worker that runs the flow. A hook whose worker dies
//     is retried on another worker after its heartbeat timeout. Each call carries an idempotency
//     key (CallInfo.IdempotencyKey), the same for every attempt, so a hook with an external
//     effect can make it happen once.
//   - The run's workflow does not close until its terminal hooks have finished or given up.
//
// Hook functions run in activities, on the worker: they may do I/O, read the clock and resolve
// named secrets with Secret. A worker runs a hook call by looking its name up in its Registry;
// a name the worker does not know fails the call at once with an *UnknownHookError.
package hooks
