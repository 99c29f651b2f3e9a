package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/flowstate/flowstate/dev/devserver"
	"github.com/flowstate/flowstate/worker"
)

// Config sizes a benchmark run.
type Config struct {
	// Flows is how many flows each row runs, over all rounds.
	Flows int `json:"flows"`
	// Tasks is how many tasks (activities) each flow runs.
	Tasks int `json:"tasks"`
	// Concurrency is how many flows are in flight at once.
	Concurrency int `json:"concurrency"`
	// Rounds splits each row's flows into batches, run row after row, round after round, each
	// round starting with another row: machine noise then hits all rows alike.
	Rounds int `json:"rounds"`
	// Warmup is how many flows each row runs, unmeasured, before the first round.
	Warmup int `json:"warmup"`
	// Rows are the keys of the rows to measure; raw is always measured.
	Rows []string `json:"rows"`
	// Sample is how many runs of each row have their history read; 0 reads them all.
	Sample int `json:"sample"`
	// Pollers is the number of workflow task pollers and of activity task pollers of each
	// worker; 0 leaves the SDK's default (2 each), with which new runs wait longer for their
	// first workflow task behind the sticky queue's backlog (350 ms against 255 ms p50 at 50 in
	// flight) and throughput is ~8 % lower, for raw and flowstate alike.
	Pollers int `json:"pollers"`
	// NoSweeper turns the flowstate worker's crash sweeper off. It runs by default, because the
	// hooks flow has on_crashed hooks, as it would on a user's worker.
	NoSweeper bool `json:"no_sweeper,omitempty"`
	// ServerConfig are Temporal dynamic config values the server starts with, over the dev
	// server's defaults.
	ServerConfig map[string]any `json:"server_config,omitempty"`
}

// DefaultConfig is the full size: about three minutes on two cores for the ten default rows.
// Each batch is two waves of Concurrency flows, so that a batch's ramp up and down weigh less
// than its steady state.
var DefaultConfig = Config{Flows: 200, Tasks: 10, Concurrency: 25, Rounds: 4, Warmup: 10, Pollers: 8, Rows: DefaultRows}

// SmallConfig is the CI size: about 15 seconds on two cores for the ten default rows.
var SmallConfig = Config{Flows: 16, Tasks: 4, Concurrency: 8, Rounds: 2, Warmup: 2, Pollers: 8, Rows: DefaultRows}

func (c Config) validate() error {
	switch {
	case c.Flows < 1:
		return errors.New("flows must be at least 1")
	case c.Tasks < 1:
		return errors.New("tasks must be at least 1")
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.Rounds < 1:
		return errors.New("rounds must be at least 1")
	case c.Rounds > c.Flows:
		return fmt.Errorf("rounds (%d) must not exceed flows (%d)", c.Rounds, c.Flows)
	case c.Warmup < 0 || c.Sample < 0:
		return errors.New("warmup and sample must not be negative")
	}
	return nil
}

// bench is one benchmark run: the server, the client, the two workers.
type bench struct {
	cfg       Config
	srv       *devserver.Server
	c         client.Client
	rawQueue  string
	fsQueue   string
	defs      *flowstateDefs
	peakByHWM bool
	// idleCPU is the process's CPU use, in cores, with nothing to do: pollers waiting, the
	// server's background work.
	idleCPU float64
}

// Run starts an in-process Temporal server and the workers, measures the rows and returns the
// report. progress receives a line per batch; nil discards them.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	return runWith(ctx, cfg, progress, runOptions{})
}

// runOptions are what the command adds to a run beyond its Config: profiles and server logs.
type runOptions struct {
	// profileDir, when set, receives a CPU profile of each measured batch, named
	// <row>-r<round>.pprof: the whole process (server, workers, client) while that row ran.
	profileDir string
	// serverLog receives the Temporal server's logs; nil discards them.
	serverLog *slog.Logger
}

func runWith(ctx context.Context, cfg Config, progress io.Writer, opts runOptions) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	specs, err := selectRows(cfg.Rows)
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	began := time.Now()
	rep := &Report{
		Config: cfg,
		Env: Env{
			GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		},
	}
	settle()
	rep.Env.ProcessRSSMB = mb(procStatusKB("VmRSS"))

	srv, err := devserver.Start(ctx, devserver.Options{DynamicConfig: cfg.ServerConfig, Logger: opts.serverLog})
	if err != nil {
		return nil, fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	settle()
	rep.Env.ServerIdleRSSMB = mb(procStatusKB("VmRSS"))

	// SDK errors go to progress until the workers stop. The client raises the memo size warning
	// as flowstate's client options do (worker.ClientOptions): a closed flow run keeps its state
	// history in its memo.
	sdkLog := &quietHandler{h: slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelError}), silent: new(atomic.Bool)}
	defer sdkLog.silence()
	copts := client.Options{Logger: sdklog.NewStructuredLogger(slog.New(sdkLog))}
	copts.PayloadLimits.MemoSizeWarning = worker.MemoSizeWarning
	c, err := srv.NewClient(ctx, copts)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	b := &bench{cfg: cfg, srv: srv, c: c, rawQueue: "bench-raw", fsQueue: "bench-flowstate", defs: newFlowstateDefs()}

	// Both workers have the SDK's default options: the raw one is a plain SDK worker, the
	// flowstate one a worker.New worker with flowstate's interceptors and no HookDefaults, so that
	// hooks without options run in the default mode (ModeAuto).
	wopts := sdkworker.Options{MaxConcurrentWorkflowTaskPollers: cfg.Pollers, MaxConcurrentActivityTaskPollers: cfg.Pollers}
	raw := sdkworker.New(c, b.rawQueue, wopts)
	registerRaw(raw)
	fs, err := worker.New(c, b.fsQueue, worker.Options{
		Flows: b.defs.flowList(), Tasks: b.defs.taskList(), Worker: wopts,
		Sweeper: worker.SweeperOptions{Disabled: cfg.NoSweeper},
		Logger:  slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	if err := raw.Start(); err != nil {
		return nil, fmt.Errorf("starting the raw worker: %w", err)
	}
	defer func() { sdkLog.silence(); raw.Stop() }()
	if err := fs.Start(); err != nil {
		return nil, fmt.Errorf("starting the flowstate worker: %w", err)
	}
	defer func() { sdkLog.silence(); fs.Stop() }()
	settle()
	rep.Env.IdleRSSMB = mb(procStatusKB("VmRSS"))
	b.idleCPU = cpuUse(ctx, time.Second)
	rep.Env.IdleCPU = b.idleCPU
	b.peakByHWM = resetPeakRSS()
	rep.Env.PeakRSSFrom = "VmRSS sampled every 10 ms"
	if b.peakByHWM {
		rep.Env.PeakRSSFrom = "VmHWM, reset before each batch (and VmRSS sampled every 10 ms)"
	}

	rows := make([]*rowRun, len(specs))
	for i, s := range specs {
		rows[i] = &rowRun{spec: s, start: s.start(b)}
	}

	if cfg.Warmup > 0 {
		for _, r := range rows {
			if _, err := b.batch(ctx, r, "warmup", cfg.Warmup); err != nil {
				return nil, fmt.Errorf("warm-up of row %s: %w", r.spec.key, err)
			}
		}
		b.defs.takeHookRuns()
		fmt.Fprintf(progress, "warm-up done: %d flows per row\n", cfg.Warmup)
	}
	for round := range cfg.Rounds {
		n := cfg.Flows / cfg.Rounds
		if round < cfg.Flows%cfg.Rounds {
			n++
		}
		for k := range rows {
			r := rows[(round+k)%len(rows)]
			label := fmt.Sprintf("r%d", round+1)
			stopProfile, err := startProfile(opts.profileDir, r.spec.key+"-"+label)
			if err != nil {
				return nil, err
			}
			res, err := b.batch(ctx, r, label, n)
			stopProfile()
			if err != nil {
				return nil, fmt.Errorf("round %d, row %s: %w", round+1, r.spec.key, err)
			}
			res.hooks = b.defs.takeHookRuns()
			r.add(res)
			fmt.Fprintf(progress, "round %d/%d %-22s %4d flows in %6.2fs  %7.1f flows/s  peak RSS %4.0f MB\n",
				round+1, cfg.Rounds, r.spec.title, n, res.done.Seconds(), res.rate(), mb(res.peakKB))
		}
	}

	fmt.Fprintf(progress, "reading histories…\n")
	for _, r := range rows {
		if err := b.readHistories(ctx, r); err != nil {
			return nil, fmt.Errorf("row %s: %w", r.spec.key, err)
		}
	}
	rep.build(rows)
	rep.Env.Elapsed = time.Since(began).Round(time.Millisecond).String()
	return rep, nil
}

// batchResult is what one batch of one row measured.
type batchResult struct {
	flows int
	// done is the batch's time until the last run's close was seen: the throughput's. wall
	// adds the drain, the wait for the server's asynchronous work on the batch's runs
	// (visibility records), whose CPU is charged to the batch.
	wall, done time.Duration
	latencies  []time.Duration
	startLat   []time.Duration
	runs       []started
	cpu        time.Duration
	// others is the CPU time the machine's other processes used meanwhile: noise.
	others time.Duration
	allocs uint64
	peakKB int64
	// hooks is what the no-op hooks saw: calls, attempts, start latencies.
	hooks hookRuns
}

// batch runs n flows of a row, cfg.Concurrency at a time, and waits for all of them.
func (b *bench) batch(ctx context.Context, r *rowRun, label string, n int) (*batchResult, error) {
	settle()
	if b.peakByHWM {
		resetPeakRSS()
	}
	sampler := startRSSSampler(10 * time.Millisecond)
	res := &batchResult{flows: n, latencies: make([]time.Duration, n), startLat: make([]time.Duration, n), runs: make([]started, n)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan int)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	cpu0, busy0, alloc0, t0 := cpuTime(), machineBusy(), heapAllocs(), time.Now()
	for range min(b.cfg.Concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := fmt.Sprintf("%s-%s-%d", r.spec.key, label, i)
				began := time.Now()
				run, err := r.start(ctx, id, b.cfg.Tasks)
				res.startLat[i] = time.Since(began)
				if err == nil {
					err = waitClosed(ctx, b.c, b.srv.Namespace(), run)
				}
				run.began, run.returned = began, time.Now()
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("flow %s: %w", id, err); cancel() })
					continue
				}
				res.latencies[i] = time.Since(began)
				res.runs[i] = run
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.done = time.Since(t0)
	if firstErr == nil {
		// The batch ends when the server has finished with its runs too: their visibility
		// records are written asynchronously, and the next batch must not pay for them.
		b.waitIdle(ctx)
	}
	res.wall = time.Since(t0)
	res.cpu = cpuTime() - cpu0
	res.others = max(0, machineBusy()-busy0-res.cpu)
	res.allocs = heapAllocs() - alloc0
	res.peakKB = sampler.peakKB()
	if b.peakByHWM {
		res.peakKB = max(res.peakKB, procStatusKB("VmHWM"))
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return res, nil
}

// idleWindow and idleMargin define idle: a window in which the process used at most idleMargin
// cores more than it did with nothing to do at the start. maxDrain bounds the wait: background
// work that grows with the database (the crash sweeper's scans of the visibility store) can
// keep the process above that forever.
const (
	idleWindow = 100 * time.Millisecond
	idleMargin = 0.25
	maxDrain   = 3 * time.Second
)

// waitIdle waits until the process is idle again: the server has written the visibility records
// of the batch's runs and finished its other asynchronous work.
func (b *bench) waitIdle(ctx context.Context) {
	deadline := time.Now().Add(maxDrain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if cpuUse(ctx, idleWindow) <= b.idleCPU+idleMargin {
			return
		}
	}
}

// cpuUse measures the process's CPU use, in cores, over d.
func cpuUse(ctx context.Context, d time.Duration) float64 {
	c0, t0 := cpuTime(), time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return (cpuTime() - c0).Seconds() / time.Since(t0).Seconds()
}

// startProfile starts a CPU profile into dir/name.pprof, or does nothing without a dir.
func startProfile(dir, name string) (stop func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// rate is the batch's throughput in flows per second.
func (b *batchResult) rate() float64 { return float64(b.flows) / b.done.Seconds() }

// cpuPerFlow is the process's CPU time per flow of the batch, in seconds.
func (b *batchResult) cpuPerFlow() float64 { return b.cpu.Seconds() / float64(b.flows) }

func mb(kb int64) float64 { return float64(kb) / 1024 }

// quietHandler passes records on until silence is called: stopping a worker makes its
// long-running activities (the crash sweeper's) log a cancellation error that means nothing here.
type quietHandler struct {
	h      slog.Handler
	silent *atomic.Bool
}

func (q *quietHandler) silence() {
	if q.silent == nil {
		return
	}
	q.silent.Store(true)
}

func (q *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !q.silent.Load() && q.h.Enabled(ctx, l)
}

func (q *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if q.silent.Load() {
		return nil
	}
	return q.h.Handle(ctx, r)
}

func (q *quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &quietHandler{h: q.h.WithAttrs(a), silent: q.silent}
}

func (q *quietHandler) WithGroup(g string) slog.Handler {
	return &quietHandler{h: q.h.WithGroup(g), silent: q.silent}
}
