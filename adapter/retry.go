package adapter

import (
	"fmt"
	"math"
	"time"
)

// RetryDelay gives the wait before a retry. Retry numbers start at 1: the wait after the first
// attempt failed. FixedDelay, DelayList and ExponentialBackoff are the three forms.
type RetryDelay interface {
	// Delay returns the wait before the given retry (1 for the first).
	Delay(retry int) time.Duration
	validate() error
}

// FixedDelay waits the same time before every retry.
type FixedDelay time.Duration

// Delay implements RetryDelay.
func (d FixedDelay) Delay(int) time.Duration { return time.Duration(d) }

func (d FixedDelay) validate() error {
	if d < 0 {
		return fmt.Errorf("retry delay must not be negative, got %s", time.Duration(d))
	}
	return nil
}

// DelayList waits its first duration before the first retry, its second before the second, and
// so on; the last one repeats (Prefect's list of retry_delay_seconds).
type DelayList []time.Duration

// Delay implements RetryDelay.
func (l DelayList) Delay(retry int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	if retry < 1 {
		retry = 1
	}
	if retry > len(l) {
		return l[len(l)-1]
	}
	return l[retry-1]
}

func (l DelayList) validate() error {
	for i, d := range l {
		if d < 0 {
			return fmt.Errorf("retry delay %d must not be negative, got %s", i, d)
		}
	}
	return nil
}

// ExponentialBackoff waits Initial before the first retry and multiplies the wait by Multiplier
// for each later one, up to Max (Prefect's exponential_backoff).
type ExponentialBackoff struct {
	// Initial is the wait before the first retry.
	Initial time.Duration
	// Multiplier grows the wait at each retry.
	// default: 2
	Multiplier float64
	// Max caps the wait.
	// default: no cap
	Max time.Duration
}

// Delay implements RetryDelay.
func (b ExponentialBackoff) Delay(retry int) time.Duration {
	if retry < 1 {
		retry = 1
	}
	m := b.multiplier()
	d := float64(b.Initial) * math.Pow(m, float64(retry-1))
	if b.Max > 0 && d > float64(b.Max) {
		return b.Max
	}
	if d > float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

func (b ExponentialBackoff) multiplier() float64 {
	if b.Multiplier == 0 {
		return 2
	}
	return b.Multiplier
}

func (b ExponentialBackoff) validate() error {
	if b.Initial < 0 || b.Max < 0 {
		return fmt.Errorf("exponential backoff durations must not be negative, got initial %s, max %s", b.Initial, b.Max)
	}
	if b.Multiplier < 0 || (b.Multiplier > 0 && b.Multiplier < 1) {
		return fmt.Errorf("exponential backoff multiplier must be at least 1, got %g", b.Multiplier)
	}
	return nil
}

// JitteredDelay applies a jitter factor to a delay: it returns a duration in
// (delay, delay × (1 + factor)], chosen by u, a number in [0, 1). A factor of 0 returns delay.
func JitteredDelay(delay time.Duration, factor, u float64) time.Duration {
	if factor <= 0 || delay <= 0 {
		return delay
	}
	// (1 - u) is in (0, 1], so the result is in (delay, delay*(1+factor)].
	return delay + time.Duration(float64(delay)*factor*(1-u))
}
