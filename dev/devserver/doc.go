// Package devserver runs a real Temporal server inside the calling process: the frontend,
// history, matching and worker services of go.temporal.io/server on SQLite, with the Temporal
// Web UI optionally beside them. It backs flowstate's dev command and the flowstatetest package,
// with which users and flowstate's own tests run flows on a real server; the library packages
// never import it, so defining flows does not pull in the server.
//
//	srv, err := devserver.Start(ctx, devserver.Options{})
//	if err != nil { ... }
//	defer srv.Stop()
//	c, err := srv.NewClient(ctx, client.Options{})
//
// What a server is:
//   - It listens on 127.0.0.1 only, unless Options.IP says otherwise: the frontend on
//     Options.Port (or a free port), the three other services on free ports, the Web UI on
//     Options.UIPort when set. There is no metrics or pprof listener.
//   - Its state is an in-memory SQLite database, gone with the process, or the Options.DBFile
//     file, created with its schema when missing and reused as it is when present, so runs
//     survive a restart.
//   - Options.Namespaces (default "default") exist when Start returns, each with
//     Options.SearchAttributes (default FlowState, a Keyword) registered, also in a file made
//     before those attributes were asked for. They are written to the database before the
//     server starts, so they are usable at once.
//   - Start returns once the frontend's health check says SERVING and it describes every
//     namespace: about 0.1 s for a fresh in-memory server. Stop takes tens of milliseconds.
//
// Differences from a production server, all in the dynamic config defaults that
// Options.DynamicConfig can override: the temporal CLI dev server's settings (search attributes
// visible at once, higher persistence QPS); eager activity execution on; one partition per task queue; no parent-close-policy
// system worker (the history service applies those policies itself) and no task queue or
// history scanners. A DBFile written by a server with more task queue partitions needs
// matching.numTaskqueueReadPartitions set to that number, or tasks in the other partitions wait.
//
// Limits that come from Temporal's SQLite plugin: it keeps every database it opened open, idle,
// until the process exits (a later Start on the same file reuses that connection), and so each
// in-memory server's data stays in memory until then: a test binary should share one server
// (flowstatetest.Shared) rather than start one per test. The server logs a lot; Options.Logger
// receives it (default: discarded).
//
// The server set-up follows Temporal's temporaltest package and the temporal CLI's dev server,
// both MIT licensed; see config.go and ui.go.
package devserver
