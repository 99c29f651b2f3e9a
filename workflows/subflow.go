package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/internal/classify"
	"github.com/flowstate/flowstate/internal/flowctx"
)

// watchSubflow records a child workflow in the parent flow's history: Running once it started,
// then the state it ended in. The child's own hooks run in the child.
func (r *flowRun) watchSubflow(ctx workflow.Context, childType string, f workflow.ChildWorkflowFuture) {
	call := flowctx.CallFrom(ctx)
	id := workflow.GetChildWorkflowOptions(ctx).WorkflowID
	workflow.Go(ctx, func(gctx workflow.Context) {
		hctx, _ := workflow.NewDisconnectedContext(gctx)
		var exec workflow.Execution
		if err := f.GetChildWorkflowExecution().Get(hctx, &exec); err == nil {
			if id == "" {
				id = exec.ID
			}
			st := hooks.NewState(hooks.Running, workflow.Now(hctx))
			r.rec.runEntry(hctx, hooks.KindSubflow, id, childType, st)
		}
		err := f.Get(hctx, nil)
		st := classify.Attempt(err, workflow.Now(hctx), 0).State
		if id == "" {
			id = childType
		}
		r.rec.runEntry(hctx, hooks.KindSubflow, id, childType, st)
		if call != nil {
			call.Final = &st
		}
	})
}
