// Package adapter is what users write flows and tasks with: Prefect's @flow and @task for
// Temporal.
//
// A Flow is a function of a workflow.Context and a typed input; it runs as the Temporal workflow
// type named after the flow, with JSON input and output, so
//
//	temporal workflow start --type <flow-name> --task-queue <queue> --input '{"x": 1}'
//
// runs a flow. A Task is a function of a context.Context and a typed input; it runs as the
// Temporal activity type named after the task.
//
// # What runs where
//
// Flow code is Temporal workflow code: it must be deterministic. Use workflow.Now, workflow.Sleep,
// workflow.Go and the task and subflow calls of this package, never time.Now, goroutines, I/O or
// global state. Task code and hooks are activity code: they may do anything, and are retried.
//
// In flow code:
//   - Task.Run runs a task and returns its result or error; Task.Submit starts it and returns a
//     Future, so several tasks run concurrently; Task.RunState returns the task's final state
//     instead of an error (Prefect's return_state=True).
//   - Flow.RunSubflow runs another flow as a child workflow with its own hooks.
//   - FlowRunInfo describes the current run; SetRunData attaches small data to it that its hooks
//     read later (even after the workflow was terminated).
//
// In task code, TaskRunInfo describes the task run and SetRunDataFromTask attaches data to the
// flow run.
//
// # Options
//
// FlowOptions and TaskOptions are Prefect's decorator arguments: retries, retry delays (a
// FixedDelay, a DelayList whose last value repeats, or an ExponentialBackoff), a jitter factor,
// a retry condition (tasks), a timeout per attempt, a run-name template (flows), tags and the
// five hooks. Their zero value means the defaults. Hooks can also be added after definition
// (Flow.OnFailure and friends, Prefect's decorator form) and replaced on a copy (WithOptions,
// Prefect's with_options). Problems with options are reported by Err and by the worker.
//
// Flow retries happen inside one workflow execution, however the run was started: each attempt
// runs the flow function again, after a durable timer. A task's retries are the Temporal server's
// when it has no on_running hooks (the task costs the history of a plain activity); with
// on_running hooks the workflow schedules each attempt itself so that the hooks run before each.
// Either way the budget starts afresh in each flow attempt.
package adapter
