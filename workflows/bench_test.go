package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

// The workflow-side cost of flowstate's interceptor per run and per task call, in the SDK's
// in-memory test environment: no server, no network, no persistence, only workflow and activity
// code and the interceptors. Each benchmark runs one workflow per iteration in a fresh
// environment, with 1 and with 10 no-op activities, so that the difference between the two
// sizes, divided by 9, is the cost of one task call, and what is left the cost of a run.
//
//	go test ./workflows -run '^$' -bench . -benchmem
//
// The end-to-end cost on a real server is what cmd/flowstate-bench measures (BENCHMARKS.md).

var benchSizes = []int{1, 10}

// benchNoop is the body of every activity and task.
func benchNoop(_ context.Context, i int) (int, error) { return i, nil }

// benchPlainWorkflow calls n no-op activities in sequence with the SDK alone.
func benchPlainWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	sum := 0
	for i := range n {
		var out int
		if err := workflow.ExecuteActivity(ctx, "bench.noop", i).Get(ctx, &out); err != nil {
			return 0, err
		}
		sum += out
	}
	return sum, nil
}

// benchFlowBody calls n runs of task in sequence.
func benchFlowBody(task *adapter.Task[int, int]) func(workflow.Context, int) (int, error) {
	return func(ctx workflow.Context, n int) (int, error) {
		sum := 0
		for i := range n {
			out, err := task.Run(ctx, i)
			if err != nil {
				return 0, err
			}
			sum += out
		}
		return sum, nil
	}
}

// benchLogger drops everything below Warn, as flowstate's testsuite does, so that both sides pay
// the same for logging.
var benchLogger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelWarn})))

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkPlainWorkflow is the baseline: a plain workflow in the SDK's test environment.
func BenchmarkPlainWorkflow(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var suite sdktestsuite.WorkflowTestSuite
				suite.SetLogger(benchLogger)
				env := suite.NewTestWorkflowEnvironment()
				env.RegisterWorkflowWithOptions(benchPlainWorkflow, workflow.RegisterOptions{Name: "bench.plain"})
				env.RegisterActivityWithOptions(benchNoop, activity.RegisterOptions{Name: "bench.noop"})
				env.ExecuteWorkflow("bench.plain", n)
				requireBenchResult(b, env, n)
			}
		})
	}
}

// BenchmarkFlowNoHooks is the same workload as a flow of tasks, without hooks: the state
// machine, the state history and the task wrapper, nothing else.
func BenchmarkFlowNoHooks(b *testing.B) {
	task := adapter.NewTask("bench.noop", benchNoop)
	flow := adapter.NewFlow("bench.flow", benchFlowBody(task))
	benchFlow(b, worker.Options{Flows: []adapter.AnyFlow{flow}, Tasks: []adapter.AnyTask{task}}, flow)
}

// BenchmarkFlowHooks adds no-op on_running and on_completion hooks to the flow and to every
// task: each task call then has its attempt scheduled by the workflow and two hook activities.
func BenchmarkFlowHooks(b *testing.B) {
	th := hooks.NewTaskHook("bench.task-hook", func(context.Context, hooks.TaskCall) error { return nil })
	fh := hooks.NewFlowHook("bench.flow-hook", func(context.Context, hooks.FlowCall) error { return nil })
	task := adapter.NewTask("bench.noop", benchNoop, adapter.TaskOptions{
		OnRunning: []hooks.TaskHook{th}, OnCompletion: []hooks.TaskHook{th},
	})
	flow := adapter.NewFlow("bench.flow", benchFlowBody(task), adapter.FlowOptions{
		OnRunning: []hooks.FlowHook{fh}, OnCompletion: []hooks.FlowHook{fh},
	})
	benchFlow(b, worker.Options{Flows: []adapter.AnyFlow{flow}, Tasks: []adapter.AnyTask{task}}, flow)
}

func benchFlow(b *testing.B, opts worker.Options, flow *adapter.Flow[int, int]) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				env := testsuite.NewEnv(b, opts)
				env.ExecuteFlow(flow, n)
				requireBenchResult(b, env.TestWorkflowEnvironment, n)
			}
		})
	}
}

func requireBenchResult(b *testing.B, env *sdktestsuite.TestWorkflowEnvironment, n int) {
	b.Helper()
	if !env.IsWorkflowCompleted() {
		b.Fatal("the workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		b.Fatal(err)
	}
	var sum int
	if err := env.GetWorkflowResult(&sum); err != nil {
		b.Fatal(err)
	}
	if want := n * (n - 1) / 2; sum != want {
		b.Fatalf("result %d, want %d", sum, want)
	}
}
