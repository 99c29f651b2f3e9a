package chaos_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flowstate/flowstate/dev/devserver"
)

// The test binary's Temporal server and chaos worker binary, set up by TestMain.
var (
	server    *devserver.Server
	workerBin string
)

// defaultParallel is how many scenarios run at once unless -test.parallel says otherwise: they
// mostly wait for heartbeat timeouts, not for the CPU.
const defaultParallel = 6

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", fmt.Sprint(defaultParallel))
	}

	dir, err := os.MkdirTemp("", "flowstate-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	workerBin = filepath.Join(dir, "chaosworker")
	build := exec.Command("go", "build", "-o", workerBin, "github.com/flowstate/flowstate/dev/internal/chaos/chaosworker")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "chaos: building the chaos worker: %v\n%s", err, out)
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err = devserver.Start(ctx, devserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: starting the Temporal server:", err)
		return 1
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: stopping the Temporal server:", err)
	}
	printTable(os.Stdout)
	if dir := os.Getenv("FLOWSTATE_REPORT_DIR"); dir != "" {
		// go test hides what a passing package prints: CI prints this file instead.
		if f, err := os.Create(filepath.Join(dir, "chaos.txt")); err == nil {
			printTable(f)
			_ = f.Close()
		}
	}
	return code
}

// row is one line of the scenario table printed at the end.
type row struct {
	scenario, expected string
	mu                 sync.Mutex
	observed           []string
	delays             []time.Duration
	pass               bool
}

var (
	rowsMu sync.Mutex
	rows   []*row
)

// newRow adds a scenario to the table; it passes when the test does.
func newRow(t *testing.T, scenario, expected string) *row {
	t.Helper()
	r := &row{scenario: scenario, expected: expected}
	rowsMu.Lock()
	rows = append(rows, r)
	rowsMu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		r.pass = !t.Failed()
		r.mu.Unlock()
	})
	return r
}

// observe adds what was seen to the row.
func (r *row) observe(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observed = append(r.observed, fmt.Sprintf(format, args...))
}

// delay records how long hooks took to run after the event that called for them.
func (r *row) delay(d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
}

// order sorts scenarios by their number, then their letter: "2b. …" after "2. …".
func order(scenario string) string {
	num, rest, _ := strings.Cut(scenario, ".")
	n, err := strconv.Atoi(strings.TrimRight(num, "abcdefghijklmnopqrstuvwxyz"))
	if err != nil {
		return scenario
	}
	return fmt.Sprintf("%04d%s%s", n, strings.TrimLeft(num, "0123456789"), rest)
}

func printTable(w *os.File) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	defer printIdle(w)
	defer printSoak(w)
	if len(rows) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b *row) int { return cmp.Compare(order(a.scenario), order(b.scenario)) })
	fmt.Fprintln(w, "\nchaos scenarios (real worker processes, real Temporal server):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\texpected\tobserved\tpass")
	for _, r := range rows {
		r.mu.Lock()
		pass := "PASS"
		if !r.pass {
			pass = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.scenario, r.expected, strings.Join(r.observed, "; "), pass)
		r.mu.Unlock()
	}
	_ = tw.Flush()
}
