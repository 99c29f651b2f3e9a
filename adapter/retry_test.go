package adapter_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/adapter"
)

func TestJitteredDelayBounds(t *testing.T) {
	const delay = 10 * time.Second
	for _, u := range []float64{0, 0.25, 0.5, 0.999999} {
		d := adapter.JitteredDelay(delay, 0.5, u)
		require.Greater(t, d, delay)
		require.LessOrEqual(t, d, 15*time.Second)
	}
	require.Equal(t, 15*time.Second, adapter.JitteredDelay(delay, 0.5, 0))
	require.Equal(t, delay, adapter.JitteredDelay(delay, 0, 0.3))
	require.Equal(t, time.Duration(0), adapter.JitteredDelay(0, 0.5, 0.3))
}

func TestRetryPolicyOfTask(t *testing.T) {
	p := adapter.RetryPolicy(adapter.TaskOptions{Retries: 2, RetryDelay: adapter.ExponentialBackoff{Initial: time.Second, Multiplier: 3, Max: time.Minute}})
	require.Equal(t, int32(3), p.MaximumAttempts)
	require.Equal(t, time.Second, p.InitialInterval)
	require.Equal(t, 3.0, p.BackoffCoefficient)
	require.Equal(t, time.Minute, p.MaximumInterval)

	p = adapter.RetryPolicy(adapter.TaskOptions{})
	require.Equal(t, int32(1), p.MaximumAttempts, "no retries means one attempt")

	p = adapter.RetryPolicy(adapter.TaskOptions{Retries: 1, RetryDelay: adapter.FixedDelay(5 * time.Second)})
	require.Equal(t, 5*time.Second, p.InitialInterval)
	require.Equal(t, 1.0, p.BackoffCoefficient)
}
