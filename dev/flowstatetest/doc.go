// Package flowstatetest runs your flows end to end on a real Temporal server, started in the test
// process, as go.temporal.io/server/temporaltest does for plain Temporal code.
//
//	func TestMain(m *testing.M) { flowstatetest.Main(m) } // stops the server after the tests
//
//	func TestPipeline(t *testing.T) {
//		c := flowstatetest.NewClient(t) // starts the test binary's server on first use
//		w := flowstatetest.StartWorker(t, c, worker.Options{
//			Flows: []adapter.AnyFlow{pipeline}, Tasks: []adapter.AnyTask{fetch},
//		})
//		run, err := pipeline.Start(t.Context(), c, client.StartWorkflowOptions{TaskQueue: w.TaskQueue()}, input)
//		require.NoError(t, err)
//		_, err = run.Get(t.Context())
//		require.NoError(t, err)
//		h, err := run.History(t.Context()) // or adapter.ReadHistory, from the run's memo once it closed
//		require.NoError(t, err)
//		require.Equal(t, []string{"Scheduled", "Running", "Completed"}, h.StateNames(h.WorkflowID))
//	}
//
// # Which test environment
//
// The in-memory environment of flowstate's testsuite package is the fast way to test a flow's
// logic and its hooks, with time skipping and mocks. This package runs the same definitions on the
// real thing: the Temporal server (frontend, history, matching and worker services, on SQLite in
// memory) and flowstate's worker, as in production. Use it for what only a server does:
//   - retries and timeouts as the server applies them (the in-memory environment, for one, does
//     not retry an activity attempt that ran past its start-to-close timeout);
//   - the FlowState search attribute, visibility queries, memos of closed runs;
//   - `temporal workflow cancel` and `terminate` (through the client), the crash sweeper and
//     on_crashed hooks of terminated runs;
//   - several workers, a worker stopped mid-run, codecs on the wire.
//
// Both kinds of test can live in one package, whose TestMain calls Main.
//
// # The server
//
// One server serves every test of a test binary (Shared, which NewClient uses): it starts on
// first use, in about a tenth of a second, and Main stops it after the tests. Tests of one binary
// share it, so each takes a task queue of its own (StartWorker does, with TaskQueue) and workflow
// IDs of its own; the tests of different packages run in different binaries with different
// servers. NewServer starts a server for one test, with other options (a namespace without the
// FlowState search attribute, dynamic config, the Web UI on a port to look at a run).
//
// The server listens on free ports of 127.0.0.1, has the "default" namespace and flowstate's
// search attributes (devserver.DefaultSearchAttributes), and keeps its state in memory until the
// test binary exits. Its own logs are discarded: set FLOWSTATE_DEVSERVER_LOG to debug, info,
// warn or error to see them on stderr. Clients made here send the warnings and errors of the SDK
// and of flowstate to the test's log, and fail the test when flowstate logs a state transition it
// does not allow.
//
// # Cost
//
// This package is in flowstate's dev module (github.com/flowstate/flowstate/dev), with the
// embedded server: importing it from a test adds the Temporal server to your module's graph, as
// temporaltest does, while your own binaries, which import only the library, do not link it. The
// first build of a test binary that imports it compiles the server: minutes, once; the build
// cache serves it afterwards.
package flowstatetest
