package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/hooks"
)

// The current details are rendered at each transition, each listed run's row kept until the
// run changes: a row shows the run's latest state and hook, and the flow hooks line its latest
// five calls, whatever the length of the run's history.
func TestCurrentDetailsFollowEveryChange(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var seen []string
	r := &recorder{details: true, history: hooks.History{Flow: "details"}}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		t0 := workflow.Now(ctx)
		state := func(typ hooks.StateType, name string, attempt int) hooks.State {
			st := hooks.NewState(typ, t0)
			st.Name, st.Attempt = name, attempt
			return st
		}
		running := state(hooks.Running, hooks.NameRunning, 1)
		r.flowEntry(ctx, "run", "details", running)
		r.runEntry(ctx, hooks.KindTask, "book#1", "book", state(hooks.Pending, hooks.NamePending, 0))
		seen = append(seen, workflow.GetCurrentDetails(ctx))
		r.runEntry(ctx, hooks.KindTask, "book#1", "book", state(hooks.Running, hooks.NameRunning, 1))
		seen = append(seen, workflow.GetCurrentDetails(ctx))
		r.hookEntry(ctx, hooks.KindTask, "book#1", "book", hooks.Invocation{Hook: "audit", Event: hooks.OnRunning, State: running}, nil)
		seen = append(seen, workflow.GetCurrentDetails(ctx))
		for i := range 7 {
			var err error
			if i == 6 {
				err = errors.New("slack is down")
			}
			r.hookEntry(ctx, hooks.KindFlow, "run", "details", hooks.Invocation{Hook: fmt.Sprintf("notify%d", i), Event: hooks.OnRunning, State: running}, err)
		}
		r.runEntry(ctx, hooks.KindTask, "book#1", "book", state(hooks.Completed, hooks.NameCompleted, 1))
		seen = append(seen, workflow.GetCurrentDetails(ctx))
		return nil
	}, workflow.RegisterOptions{Name: "details"})
	env.ExecuteWorkflow("details")
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, seen, 4)

	require.Contains(t, seen[0], "flow `details`: **Running**")
	require.Contains(t, seen[0], "1 task and subflow runs: Pending 1")
	require.Contains(t, seen[0], "| book#1 | Pending |  | ")
	require.Contains(t, seen[1], "1 task and subflow runs: Running 1")
	require.Contains(t, seen[1], "| book#1 | Running | 1 | ")
	require.NotContains(t, seen[1], "Pending")
	require.Contains(t, seen[2], "| on_running audit: completed |")
	require.Contains(t, seen[3], "| book#1 | Completed | 1 | "+seenTime(seen[3])+" | on_running audit: completed |")
	require.Equal(t, []string{"on_running notify2: completed", "on_running notify3: completed", "on_running notify4: completed",
		"on_running notify5: completed", "on_running notify6: failed"}, r.flowHooks, "the latest five flow hook calls")
	require.Contains(t, seen[3], "\nFlow hooks: on_running notify2: completed; on_running notify3: completed;")
	require.NotContains(t, seen[3], "notify1")
}

// seenTime returns the "since" cell of the details' first row.
func seenTime(details string) string {
	row := details[strings.Index(details, "| book#1 |"):]
	cells := strings.Split(row, " | ")
	_, err := time.Parse(time.TimeOnly, cells[3])
	if err != nil {
		return "(no time in " + row + ")"
	}
	return cells[3]
}

// The details keep the rows of the runs they list, no more, however many task runs the flow
// makes.
func TestCurrentDetailsKeepOnlyTheRowsTheyList(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var details string
	r := &recorder{details: true, history: hooks.History{Flow: "many"}}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		st := hooks.NewState(hooks.Pending, workflow.Now(ctx))
		st.Name = hooks.NamePending
		for i := range 3 * detailsRows {
			r.runEntry(ctx, hooks.KindTask, fmt.Sprintf("task#%d", i+1), "task", st)
			require.LessOrEqual(t, len(r.rows), detailsRows)
		}
		details = workflow.GetCurrentDetails(ctx)
		return nil
	}, workflow.RegisterOptions{Name: "many"})
	env.ExecuteWorkflow("many")
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, r.rows, detailsRows)
	require.Contains(t, details, fmt.Sprintf("| … %d more |", 2*detailsRows))
	require.Contains(t, details, fmt.Sprintf("| task#%d | Pending |", 3*detailsRows))
	require.NotContains(t, details, fmt.Sprintf("| task#%d | Pending |", 2*detailsRows))
}
