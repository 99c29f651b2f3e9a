// Package worker builds a Temporal worker that runs flows, tasks and hooks.
//
//	c, err := worker.Dial(ctx) // TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API key settings
//	w, err := worker.New(c, "my-queue", worker.Options{
//		Flows: []adapter.AnyFlow{myFlow},
//		Tasks: []adapter.AnyTask{myTask},
//	})
//	err = w.Run(ctx) // until ctx is done, SIGINT or SIGTERM; then a graceful stop
//
// New registers every flow as a workflow type and every task as an activity type named after it,
// registers the hook-runner activity, installs flowstate's interceptors, and reports every
// problem with the definitions at once (duplicate names, negative retries or delays, hooks with
// bad options). Plain Temporal workflows and activities registered with Worker.Registry get
// hooks by type name through Options.Workflows and Options.Activities.
//
// A worker with flows also runs its part of the namespace's crash sweeper (SweeperOptions), which
// runs the on_crashed hooks of flow runs terminated or timed out on the server: a second Temporal
// worker on the sweeper's task queue, and the registration of its task queue and flow types.
//
// Connection settings come from the SDK's envconfig (the variables and config file the temporal
// CLI reads), so one worker binary runs against the dev server, a self-hosted cluster or Temporal
// Cloud.
package worker
