package chaos_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
)

// SoakEnv names the environment variable giving the number of soak rounds.
const SoakEnv = "FLOWSTATE_SOAK_N"

// defaultSoakRounds keeps CI fast; measure with FLOWSTATE_SOAK_N=20 or more.
const defaultSoakRounds = 2

// tally counts the hooks of the runs of one scenario.
type tally struct {
	runs, failed                         int
	expected, ran, duplicates, lost      int
	attempts, retriedCalls, deduplicated int
	maxDelay                             time.Duration
}

func (t *tally) add(o tally) {
	t.runs += o.runs
	t.failed += o.failed
	t.expected += o.expected
	t.ran += o.ran
	t.duplicates += o.duplicates
	t.lost += o.lost
	t.attempts += o.attempts
	t.retriedCalls += o.retriedCalls
	t.deduplicated += o.deduplicated
	t.maxDelay = max(t.maxDelay, o.maxDelay)
}

var (
	soakMu     sync.Mutex
	soakRounds int
	soakOrder  []string
	soakTally  = map[string]*tally{}
)

// TestSoak repeats the kill scenarios FLOWSTATE_SOAK_N times and counts, across all runs, the
// hook effects expected and made: a missing one is lost, an extra one a duplicate.
func TestSoak(t *testing.T) {
	n := defaultSoakRounds
	if v := os.Getenv(SoakEnv); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "%s=%q", SoakEnv, v)
		require.Positive(t, n, "%s=%q", SoakEnv, v)
	}
	scenarios := []scenario{killMidTask, killMidTaskRetry, killMidTaskRetryRunning, killMidHook, moveToActivity, killAfterMove, terminate, terminateAllDown, terminateAfterKills, killMidCrashHook, killSweeperWorker}
	soakMu.Lock()
	soakRounds = n
	for _, sc := range scenarios {
		soakOrder = append(soakOrder, sc.name)
		soakTally[sc.name] = &tally{}
	}
	soakMu.Unlock()

	t.Run("rounds", func(t *testing.T) {
		for i := 1; i <= n; i++ {
			for _, sc := range scenarios {
				t.Run(fmt.Sprintf("%s/%02d", sc.name, i), func(t *testing.T) {
					t.Parallel()
					e := newEnv(t)
					id := e.workflowID("run")
					// Count whatever happened, also when the run failed half-way: cleanups run
					// last in, first out, so this one sees the effects before the directory goes.
					r := &row{} // not in the scenario table: the soak has its own
					t.Cleanup(func() { count(t, e, sc, id, r) })
					sc.run(t, e, r, id)
				})
			}
		}
	})

	soakMu.Lock()
	var total tally
	for _, name := range soakOrder {
		total.add(*soakTally[name])
	}
	soakMu.Unlock()
	t.Log("\n" + soakTable())
	require.Zero(t, total.lost, "lost hook effects")
	require.Zero(t, total.duplicates, "duplicate hook effects")
}

func count(t *testing.T, e *env, sc scenario, id string, r *row) {
	got := e.counts(id)
	var o tally
	o.runs = 1
	r.mu.Lock()
	for _, d := range r.delays {
		o.maxDelay = max(o.maxDelay, d)
	}
	r.mu.Unlock()
	if t.Failed() {
		o.failed = 1
	}
	for hook, want := range sc.expect {
		o.expected += want
		if got[hook] < want {
			o.lost += want - got[hook]
		}
	}
	for hook, n := range got {
		o.ran += n
		if n > sc.expect[hook] {
			o.duplicates += n - sc.expect[hook]
		}
	}
	for _, attempts := range e.attempts(id) {
		o.attempts += len(attempts)
		if len(attempts) > 1 {
			o.retriedCalls++
		}
		for _, a := range attempts {
			if a.Duplicate {
				o.deduplicated++
			}
		}
	}
	soakMu.Lock()
	soakTally[sc.name].add(o)
	soakMu.Unlock()
}

func soakTable() string {
	soakMu.Lock()
	defer soakMu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d rounds of the kill scenarios\n", soakRounds)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\truns\tfailed\thooks expected\thooks run\tduplicates\tlost\thook attempts\tcalls retried\tattempts deduplicated by key\tmax on_crashed delay\t")
	var total tally
	for _, name := range soakOrder {
		s := soakTally[name]
		total.add(*s)
		tallyRow(tw, name, *s)
	}
	tallyRow(tw, "total", total)
	_ = tw.Flush()
	return b.String()
}

func tallyRow(w *tabwriter.Writer, name string, s tally) {
	delay := "-"
	if s.maxDelay > 0 {
		delay = s.maxDelay.Round(10 * time.Millisecond).String()
	}
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", name, s.runs, s.failed, s.expected, s.ran, s.duplicates, s.lost, s.attempts, s.retriedCalls, s.deduplicated, delay)
}

func printSoak(w *os.File) {
	soakMu.Lock()
	ran := soakRounds > 0
	soakMu.Unlock()
	if ran {
		fmt.Fprintln(w)
		fmt.Fprint(w, soakTable())
	}
}
