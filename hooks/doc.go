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
//   - Durable (beyond Prefect): every hook call is a Temporal activity (type "flowstate.hook") —
//     a local activity or a regular one, see Modes — scheduled from workflow code, with its own
//     retry policy (Options; DefaultRetryPolicy when none is set), on a context that survives
//     cancellation of the run. A call whose worker dies is run again by another worker. Each
//     call carries an idempotency key (CallInfo.IdempotencyKey), the same for every attempt
//     and whichever worker runs it, so a hook with an external effect can make it happen once.
//   - The run's workflow does not close until its terminal hooks have finished or given up.
//
// # Modes
//
// Options.Mode says how a hook's calls run. Every mode keeps the rules above; they differ in what
// a call costs, where it runs and how soon a dead worker's call runs again.
//
// ModeAuto, the default, runs a call's first attempt as a local activity, in the worker that runs
// the flow and within the workflow task that entered the state, bounded by AutoLocalTimeout (or
// the hook's StartToCloseTimeout when shorter). A call that succeeds there — most do — costs one
// MarkerRecorded event and no workflow task of its own: a task's on_running hooks and its
// attempt, or its on_completion hooks and the next task's on_running hooks and attempt, go out
// in one workflow task. When the local attempt fails retryably, times out, or the worker lacks
// the hook, the call waits as a retry would (a durable timer: the retry policy's first interval,
// or the error's next retry delay), then goes on as an activity with the rest of its retry
// policy; CallInfo.Attempt continues the count (the activity's first attempt is attempt 2). A
// non-retryable error ends the call at once, as in any mode. A worker that dies mid local
// attempt fails its workflow task: the worker that takes the run over after the workflow task
// timeout (10 s by default) replays it and runs the local attempt again, so an attempt can run
// twice with the same attempt number and idempotency key.
//
// ModeActivity runs every attempt as an activity: any worker polling the hook's task queue may
// run it, the Web UI lists it as an activity, a long hook (up to StartToCloseTimeout, heartbeated
// by flowstate) holds nothing, and a dead worker's call is retried after HeartbeatTimeout. It
// costs three events, and, since the run waits for its hooks, the workflow task that resumes the
// run after it: six events per call in a flow that runs its tasks one after another.
//
// ModeLocal runs every attempt as a local activity, retried by the SDK inside the worker running
// the flow: one event per call, its retries included, and no move to an activity. A hook that
// runs or retries for longer than the workflow task timeout keeps the run's workflow task open
// (the SDK extends it, at three events each time), and the run sees its signals, cancellation and
// timers only when the SDK extends it; a dead worker's call starts again from its first attempt
// on the worker that replays the run. Use it for hooks known to be short, or when a hook must run in the flow's
// process.
//
// A hook whose TaskQueue is not the run's always runs as an activity. A run keeps the mode of
// each hook it planned with (see package workflows): changing a hook's mode between deploys
// changes new runs only.
//
// Hook functions run in activities, on the worker: they may do I/O, read the clock and resolve
// named secrets with Secret. A worker runs a hook call by looking its name up in its Registry;
// a name the worker does not know fails the call at once with an *UnknownHookError.
package hooks
