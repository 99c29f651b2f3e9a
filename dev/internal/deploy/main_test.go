// Package deploy_test is the rolling-deploy test of SPEC §7 ("Deploys never break runs"): runs
// in flight on a worker process with the "v1" definitions of package deployflows, that process
// SIGKILLed, a worker process with the "v2" definitions taking over, on a real Temporal server
// running in this process. It prints a table of what each scenario expected and saw.
package deploy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowstate/flowstate/dev/devserver"
)

// The test binary's Temporal server and worker binary, set up by TestMain.
var (
	server    *devserver.Server
	workerBin string
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "flowstate-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	workerBin = filepath.Join(dir, "deployworker")
	build := exec.Command("go", "build", "-o", workerBin, "github.com/flowstate/flowstate/dev/internal/deploy/deployworker")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy: building the worker: %v\n%s", err, out)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err = devserver.Start(ctx, devserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy: starting the Temporal server:", err)
		return 1
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "deploy: stopping the Temporal server:", err)
	}
	report.print(os.Stdout)
	if dir := os.Getenv("FLOWSTATE_REPORT_DIR"); dir != "" {
		// go test hides what a passing package prints: CI prints this file instead.
		if f, err := os.Create(filepath.Join(dir, "deploy.txt")); err == nil {
			report.print(f)
			_ = f.Close()
		}
	}
	return code
}

// report is the table printed at the end.
var report table

type table struct {
	mu     sync.Mutex
	title  string
	header []string
	rows   [][]string
}

func (tb *table) set(title string, header []string, rows [][]string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.title, tb.header, tb.rows = title, header, rows
}
