// Package testsuite runs flows in Temporal's in-memory test environment with flowstate's
// interceptors and real hook activities, and reads back the state history and every hook call
// with its arguments.
//
//	func TestMyFlow(t *testing.T) {
//		env := testsuite.NewEnv(t, worker.Options{Flows: []adapter.AnyFlow{myFlow}, Tasks: []adapter.AnyTask{myTask}})
//		env.ExecuteFlow(myFlow, input)
//		require.NoError(t, env.GetWorkflowError())
//		h := env.History()                // the flow's and its tasks' states, with hook outcomes
//		calls := env.CallsOf("notify")    // what the hook was called with
//	}
//
// Hooks can be replaced with ReplaceHook (for one that would post to the outside world). The
// embedded TestWorkflowEnvironment offers everything else: time skipping, delayed callbacks,
// cancellation, mocked activities.
package testsuite
