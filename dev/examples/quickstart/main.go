// The quick start: a flow with a task and an on_failure hook, and a worker that runs them.
package main

import (
	"context"
	"log"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

var notify = hooks.NewFlowHook("notify", func(ctx context.Context, c hooks.FlowCall) error {
	log.Printf("%s entered %s: %s", c.Run.Name, c.State.Name, c.State.Message) // runs as an activity, retried
	return nil
})

var fetch = adapter.NewTask("fetch", func(ctx context.Context, url string) (int, error) {
	return len(url), nil // activity code: I/O welcome
}, adapter.TaskOptions{Retries: 2, RetryDelay: adapter.ExponentialBackoff{Initial: time.Second}})

var pipeline = adapter.NewFlow("pipeline", func(ctx workflow.Context, p struct{ URL string }) (int, error) {
	return fetch.Run(ctx, p.URL) // workflow code: deterministic
}, adapter.FlowOptions{Retries: 1, OnFailure: []hooks.FlowHook{notify}})

func main() {
	c, err := worker.Dial(context.Background()) // TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key
	if err != nil {
		log.Fatal(err) // no server there: "flowstate: connecting to Temporal at localhost:7233 …"
	}
	defer c.Close()
	w, err := worker.New(c, "my-queue", worker.Options{
		Flows: []adapter.AnyFlow{pipeline}, Tasks: []adapter.AnyTask{fetch},
	})
	if err != nil {
		log.Fatal(err) // invalid definitions, all of them in one error
	}
	if err := w.Run(context.Background()); err != nil { // until Ctrl-C; then a graceful stop
		log.Fatal(err)
	}
}
