package flowstatetest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
)

var shout = adapter.NewTask("shout", func(ctx context.Context, s string) (string, error) {
	return strings.ToUpper(s) + "!", nil
})

var announce = hooks.NewFlowHook("announce", func(ctx context.Context, c hooks.FlowCall) error {
	fmt.Printf("on_completion: %s entered %s\n", c.Flow.Name, c.State.Name)
	return nil
})

var greet = adapter.NewFlow("greet", func(ctx workflow.Context, name string) (string, error) {
	return shout.Run(ctx, "hello "+name)
}, adapter.FlowOptions{OnCompletion: []hooks.FlowHook{announce}})

// A flow, its task and its hook on the test binary's server: the body of a test.
func Example() {
	test(func(t testing.TB) { // func TestGreet(t *testing.T) {
		c := flowstatetest.NewClient(t)
		w := flowstatetest.StartWorker(t, c, worker.Options{
			Flows: []adapter.AnyFlow{greet}, Tasks: []adapter.AnyTask{shout},
		})

		run, err := greet.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, "ada")
		if err != nil {
			t.Fatal(err)
		}
		out, err := run.Get(t.Context()) // the run closes once its on_completion hook is done
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(out)

		h, err := adapter.ReadHistory(t.Context(), c, run.ID(), run.RunID())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("flow:", h.StateNames(h.WorkflowID))
		fmt.Println("task:", h.StateNames(h.TaskRuns()[0]))
		fmt.Println("hook:", h.Hooks()[0].Hook, h.Hooks()[0].Status)
	})
	// Output:
	// on_completion: greet entered Completed
	// HELLO ADA!
	// flow: [Scheduled Running Completed]
	// task: [Pending Running Completed]
	// hook: announce completed
}

// A run that fails is retried by the server, and its on_failure hook runs once, after the last
// attempt.
func ExampleStartWorker() {
	test(func(t testing.TB) { // func TestRetries(t *testing.T) {
		var attempts atomic.Int32
		flaky := adapter.NewFlow("flaky", func(ctx workflow.Context, _ struct{}) (struct{}, error) {
			return struct{}{}, errors.New("down")
		}, adapter.FlowOptions{
			Retries:    2,
			RetryDelay: adapter.FixedDelay(10 * time.Millisecond),
			OnRunning: []hooks.FlowHook{hooks.NewFlowHook("count", func(ctx context.Context, c hooks.FlowCall) error {
				attempts.Add(1)
				return nil
			})},
			OnFailure: []hooks.FlowHook{hooks.NewFlowHook("page", func(ctx context.Context, c hooks.FlowCall) error {
				fmt.Printf("on_failure after attempt %d: %s\n", c.Run.Attempt, c.State)
				return nil
			})},
		})
		c := flowstatetest.NewClient(t)
		w := flowstatetest.StartWorker(t, c, worker.Options{Flows: []adapter.AnyFlow{flaky}})

		run, err := flaky.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, struct{}{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = run.Get(t.Context())
		fmt.Println("run failed:", err != nil, "attempts:", attempts.Load())
		h, err := run.History(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(h.StateNames(h.WorkflowID))
	})
	// Output:
	// on_failure after attempt 3: Failed("down")
	// run failed: true attempts: 3
	// [Scheduled Running AwaitingRetry Retrying AwaitingRetry Retrying Failed]
}

// test runs body as a test would, with t standing in for the test's *testing.T: examples have
// none. Clean-ups run when body returns; a failure panics.
func test(body func(t testing.TB)) {
	t := &exampleT{}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	defer t.end()
	body(t)
}

// exampleT is the part of testing.TB that the examples and flowstatetest use.
type exampleT struct {
	testing.TB // nil: other methods are not called
	ctx        context.Context
	cancel     context.CancelFunc
	cleanups   []func()
}

func (e *exampleT) Helper()                        {}
func (e *exampleT) Name() string                   { return "Example" }
func (e *exampleT) Context() context.Context       { return e.ctx }
func (e *exampleT) Cleanup(f func())               { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) Log(...any)                     {} // the SDK's warnings: examples print only results
func (e *exampleT) Logf(string, ...any)            {}
func (e *exampleT) Error(args ...any)              { panic(fmt.Sprint(args...)) }
func (e *exampleT) Errorf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (e *exampleT) Fatal(args ...any)              { panic(fmt.Sprint(args...)) }
func (e *exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

func (e *exampleT) end() {
	e.cancel()
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
