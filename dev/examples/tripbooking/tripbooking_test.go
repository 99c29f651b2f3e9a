package tripbooking_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
	"github.com/flowstate/flowstate/dev/examples/tripbooking"
	"github.com/flowstate/flowstate/hooks"
	"github.com/flowstate/flowstate/testsuite"
	"github.com/flowstate/flowstate/worker"
)

func env(t *testing.T) *testsuite.Env {
	t.Setenv("FLOWSTATE_EXAMPLES_DIR", t.TempDir())
	return testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{tripbooking.Flow}, Tasks: []adapter.AnyTask{tripbooking.Book}})
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	return err == nil
}

// A trip whose bookings all succeed commits: each booking is confirmed, in order.
func TestTripCommits(t *testing.T) {
	e := env(t)
	e.ExecuteFlow(tripbooking.Flow, tripbooking.Trip{Traveller: "ada"})
	require.NoError(t, e.GetWorkflowError())
	run := "default-test-workflow-id"
	for _, r := range []string{"flight", "hotel", "car"} {
		require.True(t, exists(t, tripbooking.Path(run, r, "confirmed")), r)
	}
	var order []string
	for _, c := range e.CallsOf("confirm-booking") {
		order = append(order, c.TaskRun.ID)
		require.Equal(t, "trip#1", c.Tx.ID)
	}
	require.Equal(t, []string{"book#1", "book#2", "book#3"}, order)
}

// A trip whose car cannot be booked rolls back: the hotel, then the flight, are cancelled; the
// flow fails with the car's error.
func TestTripRollsBack(t *testing.T) {
	e := env(t)
	e.ExecuteFlow(tripbooking.Flow, tripbooking.Trip{Traveller: "ada", Fail: "car"})
	require.ErrorContains(t, e.GetWorkflowError(), "no car available")
	run := "default-test-workflow-id"
	require.True(t, exists(t, tripbooking.Path(run, "flight", "cancelled")))
	require.True(t, exists(t, tripbooking.Path(run, "hotel", "cancelled")))
	require.False(t, exists(t, tripbooking.Path(run, "car", "booked")))
	var order []string
	for _, c := range e.CallsOf("cancel-booking") {
		order = append(order, c.TaskRun.ID)
		require.Equal(t, "no car available", c.Tx.Cause)
	}
	require.Equal(t, []string{"book#2", "book#1"}, order, "reverse order of completion")
	h := e.History()
	require.Equal(t, []string{hooks.NameRunning, hooks.NameRolledBack}, h.StateNames("trip#1"))
}
