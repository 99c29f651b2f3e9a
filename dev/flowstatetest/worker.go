package flowstatetest

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

// StartWorker builds a flowstate worker (worker.New) for opts on a task queue of the test's own
// (TaskQueue), starts it, and stops it when the test ends; start your runs on its TaskQueue().
// The register functions, if any, get the worker's registry before it starts: register there
// the plain Temporal workflows and activities that opts.Workflows and opts.Activities attach
// hooks to.
//
// A nil opts.Logger sends flowstate's start-up messages of warning level and above to the test's
// log; an empty opts.Namespace is the namespace of c when NewClient made it. Call StartWorker
// after NewClient, so that the worker stops before its client closes.
func StartWorker(t testing.TB, c client.Client, opts worker.Options, register ...func(sdkworker.Registry)) *worker.Worker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testsuite.Logger(t)
	}
	if opts.Namespace == "" {
		if ns, ok := namespaces.Load(c); ok {
			opts.Namespace = ns.(string)
		}
	}
	w, err := worker.New(c, TaskQueue(t), opts)
	if err != nil {
		t.Fatalf("flowstatetest: building the worker: %v", err)
	}
	for _, r := range register {
		r(w.Registry())
	}
	if err := w.Start(); err != nil {
		t.Fatalf("flowstatetest: starting the worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

var queues atomic.Int64

// TaskQueue returns a task queue name of the test's own, made of its name and unique in the
// process: tests that share a server never take each other's tasks, also under -count or in
// parallel. It also makes a workflow ID that no other test uses.
func TaskQueue(t testing.TB) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "."), queues.Add(1))
}
