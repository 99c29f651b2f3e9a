// Package e2e holds flowstate's end-to-end tests: flows on a real Temporal server running in the
// test process (dev/flowstatetest), driven through the SDK client as users drive them.
package e2e
