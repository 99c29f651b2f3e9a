// Package gomodule tests flowstate as users get it through the go command, in throwaway modules
// outside this repository:
//
//   - what `go get github.com/flowstate/flowstate` adds to a user's module graph, measured with
//     `go list -m all` beside the same for the plain Temporal SDK, and that neither the library's
//     go.mod nor that graph holds the Temporal server;
//   - that `go install github.com/flowstate/flowstate/dev/cmd/flowstate@<version>` works, from a
//     module proxy directory serving this checkout as a release.
//
// Both run offline once the module cache holds the dependencies: they read modules from the
// module cache first ($GOMODCACHE/cache/download as a GOPROXY) and fall back to the GOPROXY
// configured for the go command. The measured counts and times go to the test log and, when
// FLOWSTATE_REPORT_DIR is set, to gomodule.txt there.
package gomodule
