package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/flowstatetest"
	"github.com/flowstate/flowstate/dev/internal/testcodec"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/worker"
	"github.com/flowstate/flowstate/workflows"
)

// codecSecrets are values the codec test puts everywhere flowstate writes: none of them may appear
// in a history's raw bytes.
var codecSecrets = []string{"input-9f1c-plaintext", "flow-data-7a2e-plaintext", "task-data-3b8d-plaintext", "bound-arg-5e6f-plaintext"}

type codecInput struct {
	Secret string `json:"secret"`
	Block  bool   `json:"block,omitempty"`
}

// With an encrypting payload codec on client and worker, everything flowstate writes and reads
// goes through it: run data from flow and task, bound hook arguments, the state history (memo and
// query), and what the crash handler reads of a terminated run. The raw history holds none of
// the plaintext.
func TestPayloadCodec(t *testing.T) {
	dc := testcodec.DataConverter()
	srv := flowstatetest.Shared(t)
	c := srv.NewClient(t, client.Options{DataConverter: dc})
	tq := flowstatetest.TaskQueue(t)

	type seen struct{ event, input, flowData, taskData, args string }
	var mu sync.Mutex
	var calls []seen
	type boundArgs struct {
		Note string `json:"note"`
	}
	record := func(event hooks.Event, run hooks.FlowRun, args string) {
		var fd, td string
		_, _ = run.Lookup("flow", &fd)
		_, _ = run.Lookup("task", &td)
		mu.Lock()
		calls = append(calls, seen{string(event), string(run.Parameters), fd, td, args})
		mu.Unlock()
	}
	onDone := hooks.NewFlowHookWithArgs("codec-done", func(_ context.Context, c hooks.FlowCall, a boundArgs) error {
		record(c.Hook.Event, c.Run, a.Note)
		return nil
	})
	onCrash := hooks.NewFlowHook("codec-crashed", func(_ context.Context, c hooks.FlowCall) error {
		record(c.Hook.Event, c.Run, "")
		return nil
	})
	attach := adapter.NewTask("codec-attach", func(ctx context.Context, in codecInput) (string, error) {
		if err := adapter.SetRunDataFromTask(ctx, "task", codecSecrets[2]); err != nil {
			return "", err
		}
		if in.Block {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "ok", nil
	}, adapter.TaskOptions{Retries: 1})
	f := adapter.NewFlow("codec-flow", func(ctx workflow.Context, in codecInput) (string, error) {
		if err := adapter.SetRunData(ctx, "flow", codecSecrets[1]); err != nil {
			return "", err
		}
		return attach.Run(ctx, in)
	}, adapter.FlowOptions{
		OnCompletion: []hooks.FlowHook{onDone.Bind(boundArgs{Note: codecSecrets[3]})},
		OnCrashed:    []hooks.FlowHook{onCrash},
	})
	w, err := worker.New(c, tq, worker.Options{Flows: []adapter.AnyFlow{f}, Tasks: []adapter.AnyTask{attach},
		Sweeper: worker.SweeperOptions{Interval: 200 * time.Millisecond}})
	require.NoError(t, err)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	// A run that completes.
	run, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, codecInput{Secret: codecSecrets[0]})
	require.NoError(t, err)
	out, err := run.Get(t.Context())
	require.NoError(t, err)
	require.Equal(t, "ok", out)
	h, err := adapter.ReadHistory(t.Context(), c, run.ID(), "", adapter.WithDataConverter(dc))
	require.NoError(t, err)
	require.Equal(t, hooks.NameCompleted, h.State.Name, h.Timeline())
	require.JSONEq(t, fmt.Sprintf("%q", codecSecrets[1]), string(h.Data["flow"]))
	require.JSONEq(t, fmt.Sprintf("%q", codecSecrets[2]), string(h.Data["task"]))
	// Without the converter, ReadHistory reads the closed run through the query, which the client
	// decodes.
	viaQuery, err := adapter.ReadHistory(t.Context(), c, run.ID(), "")
	require.NoError(t, err)
	require.Equal(t, h.StateNames(run.ID()), viaQuery.StateNames(run.ID()))

	// A run terminated while its task blocks: its crash handler reads what it left through the
	// codec.
	dead, err := f.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: tq}, codecInput{Secret: codecSecrets[0], Block: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		h, err := adapter.ReadHistory(t.Context(), c, dead.ID(), "")
		return err == nil && h.Data["task"] != nil
	}, time.Minute, 50*time.Millisecond, "the task attaches its data")
	require.NoError(t, c.TerminateWorkflow(t.Context(), dead.ID(), dead.RunID(), "codec test"))
	handlerID := workflows.CrashHandlerID(dead.ID(), dead.RunID())
	require.Eventually(t, func() bool {
		d, err := c.DescribeWorkflowExecution(t.Context(), handlerID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}, time.Minute, 100*time.Millisecond, "the crash handler completes")
	crashed, err := adapter.ReadHistory(t.Context(), c, dead.ID(), "")
	require.NoError(t, err)
	require.Equal(t, hooks.NameCrashed, crashed.State.Name, crashed.Timeline())

	mu.Lock()
	require.Len(t, calls, 2)
	wantInput := fmt.Sprintf(`{"secret":%q}`, codecSecrets[0])
	require.Equal(t, seen{"on_completion", wantInput, codecSecrets[1], codecSecrets[2], codecSecrets[3]}, calls[0])
	require.Equal(t, "on_crashed", calls[1].event)
	require.JSONEq(t, fmt.Sprintf(`{"secret":%q,"block":true}`, codecSecrets[0]), calls[1].input, "on_crashed sees the dead run's input")
	require.Equal(t, codecSecrets[1], calls[1].flowData, "on_crashed sees the flow's data")
	require.Equal(t, codecSecrets[2], calls[1].taskData, "on_crashed sees the task's data")
	mu.Unlock()

	// The raw histories (the flow runs', the crash handler's) and memos hold none of the plaintext.
	for _, id := range []string{run.ID(), dead.ID(), handlerID} {
		raw := rawHistory(t, c, id)
		d, err := c.DescribeWorkflowExecution(t.Context(), id, "")
		require.NoError(t, err)
		memo, err := proto.Marshal(d.GetWorkflowExecutionInfo().GetMemo())
		require.NoError(t, err)
		for _, secret := range codecSecrets {
			require.False(t, bytes.Contains(raw, []byte(secret)), "the history of %s holds %q", id, secret)
			require.False(t, bytes.Contains(memo, []byte(secret)), "the memo of %s holds %q", id, secret)
		}
	}
	// The scan finds plaintext where there is some: a run started without the codec.
	plain := srv.NewClient(t, client.Options{})
	ctl, err := plain.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: tq + "-nobody"}, "control", codecSecrets[0])
	require.NoError(t, err)
	require.True(t, bytes.Contains(rawHistory(t, plain, ctl.GetID()), []byte(codecSecrets[0])), "the scan must see plaintext")
	require.NoError(t, plain.TerminateWorkflow(t.Context(), ctl.GetID(), "", "control"))
}

// rawHistory returns a run's whole history in the server's wire format: payloads as the server
// keeps them, their bytes verbatim.
func rawHistory(t *testing.T, c client.Client, id string) []byte {
	t.Helper()
	var b []byte
	it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		raw, err := proto.Marshal(e)
		require.NoError(t, err)
		b = append(b, raw...)
	}
	return b
}
