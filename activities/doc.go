// Package activities is flowstate's activity-side machinery: the interceptor that wraps task
// activities (heartbeats so that a dead worker is noticed, panics as Crashed attempts, retry
// conditions, explicit retry delays), the hook-runner activity every hook call runs as, and the
// crash sweeper's activities (Sweeper).
//
// The worker package installs both; users rarely name this package.
package activities
