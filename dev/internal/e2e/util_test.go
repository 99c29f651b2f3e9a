package e2e_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func fastPolicy(attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: attempts}
}

// fetchHistory returns a run's whole history.
func fetchHistory(t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(t.Context(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

// replayerRegistrar lets a worker.Setup register its flows with a workflow replayer; activities
// do not run on replay.
type replayerRegistrar struct{ r sdkworker.WorkflowReplayer }

func (r replayerRegistrar) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	r.r.RegisterWorkflowWithOptions(w, o)
}

func (replayerRegistrar) RegisterActivityWithOptions(any, activity.RegisterOptions) {}
