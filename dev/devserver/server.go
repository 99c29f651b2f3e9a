package devserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ErrStopped is returned by the methods of a Server that has been stopped.
var ErrStopped = errors.New("devserver: server is stopped")

// Server is a Temporal server running in this process. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	hostPort string
	temporal temporal.Server
	ui       *uiServer
	release  func() // gives the database file back; nil for an in-memory database

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Start starts a server and returns once its frontend answers and its namespaces exist. ctx
// bounds the start only; the server runs until Stop.
func Start(ctx context.Context, opts Options) (_ *Server, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devserver: not started: %w", err)
	}
	p, err := choosePorts(o)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, hostPort: hostPort(o.IP, p.frontend)}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()

	file := ""
	if o.DBFile != "" {
		if file, s.release, err = claimFile(o.DBFile); err != nil {
			return nil, err
		}
	}
	sqlConf := sqlConfig(file)
	if err := prepareDB(ctx, sqlConf, file, clusterName, o.Namespaces, o.SearchAttributes); err != nil {
		return nil, err
	}

	logger := newServerLogger(o.Logger)
	conf := serverConfig(o, p, sqlConf)
	sopts, err := serverOptions(o, p, conf, logger)
	if err != nil {
		return nil, err
	}
	srv, err := newTemporalServer(sopts)
	if err != nil {
		return nil, withFatal(err, logger.fatal)
	}
	if err := startTemporalServer(srv); err != nil {
		return nil, withFatal(err, logger.fatal)
	}
	s.temporal = srv

	readyCtx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if err := waitReady(readyCtx, s.hostPort, o.Namespaces, logger.fatal); err != nil {
		return nil, err
	}

	if o.UIPort != 0 {
		if s.ui, err = startUI(o, s.hostPort); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// choosePorts checks the ports o asks for and picks free ones for the rest.
func choosePorts(o Options) (ports, error) {
	var p ports
	if o.Port != 0 {
		if err := checkPortFree("frontend", o.IP, o.Port); err != nil {
			return p, err
		}
	}
	if o.UIPort != 0 {
		if err := checkPortFree("UI", o.IP, o.UIPort); err != nil {
			return p, err
		}
	}
	// Ask for spares so that the ports o names can be left out.
	free, err := freePorts(o.IP, 6)
	if err != nil {
		return p, err
	}
	free = slices.DeleteFunc(free, func(port int) bool { return port == o.Port || port == o.UIPort })
	p.frontend = o.Port
	if p.frontend == 0 {
		p.frontend, free = free[0], free[1:]
	}
	p.history, p.matching, p.worker = free[0], free[1], free[2]
	return p, nil
}

// newTemporalServer and startTemporalServer turn a panic of the server's set-up into an error:
// an embedded server must not take its process down.
func newTemporalServer(opts []temporal.ServerOption) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: creating the server panicked: %v", r)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("devserver: creating the server: %w", err)
	}
	return srv, nil
}

func startTemporalServer(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: starting the server panicked: %v", r)
		}
	}()
	if err := srv.Start(); err != nil {
		return fmt.Errorf("devserver: starting the server: %w", err)
	}
	return nil
}

// withFatal adds the first Fatal the server logged, which usually says what went wrong.
func withFatal(err error, rec *fatalRecorder) error {
	if fatal := rec.get(); fatal != nil {
		return fmt.Errorf("%w; %w", err, fatal)
	}
	return err
}

// frontendService is the gRPC health service name the frontend reports under.
const frontendService = "temporal.api.workflowservice.v1.WorkflowService"

// waitReady polls the frontend until its health check says SERVING and it describes every
// namespace.
func waitReady(ctx context.Context, hostPort string, namespaces []string, rec *fatalRecorder) error {
	conn, err := grpc.NewClient(hostPort, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("devserver: connecting to the frontend at %s: %w", hostPort, err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	wf := workflowservice.NewWorkflowServiceClient(conn)
	ready := func() error {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err := health.Check(actx, &healthpb.HealthCheckRequest{Service: frontendService})
		if err != nil {
			return err
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health %s", st)
		}
		for _, ns := range namespaces {
			if _, err := wf.DescribeNamespace(actx, &workflowservice.DescribeNamespaceRequest{Namespace: ns}); err != nil {
				return fmt.Errorf("namespace %q: %w", ns, err)
			}
		}
		return nil
	}
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if fatal := rec.get(); fatal != nil {
			return fmt.Errorf("devserver: the server failed: %w", fatal)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: the frontend at %s did not become ready: %w (last answer: %v)", hostPort, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// HostPort is the frontend's gRPC address, as clients dial it ("127.0.0.1:7233").
func (s *Server) HostPort() string { return s.hostPort }

// Namespace is the server's first namespace, the one NewClient uses by default.
func (s *Server) Namespace() string { return s.opts.Namespaces[0] }

// Namespaces are all the namespaces the server registered at start.
func (s *Server) Namespaces() []string { return slices.Clone(s.opts.Namespaces) }

// UIAddress is the Web UI's URL ("http://127.0.0.1:8233"), or "" without a UI.
func (s *Server) UIAddress() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// NewClient dials the server. Empty HostPort and Namespace in opts are filled with the
// server's; the rest is the SDK's. The caller closes the client.
func (s *Server) NewClient(ctx context.Context, opts client.Options) (client.Client, error) {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	if opts.HostPort == "" {
		opts.HostPort = s.hostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = s.Namespace()
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("devserver: dialing %s: %w", opts.HostPort, err)
	}
	return c, nil
}

// Stop stops the Web UI and the server, and releases the database file. Clients and workers
// still connected see the server go away; stop them first for a quiet shutdown. Stop is
// idempotent: later calls return the first call's result.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	var errs []error
	if s.ui != nil {
		errs = append(errs, s.ui.stop())
	}
	if s.temporal != nil {
		errs = append(errs, stopTemporalServer(s.temporal))
	}
	if s.release != nil {
		s.release()
	}
	s.stopErr = errors.Join(errs...)
	return s.stopErr
}

func stopTemporalServer(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devserver: stopping the server panicked: %v", r)
		}
	}()
	if err := srv.Stop(); err != nil {
		return fmt.Errorf("devserver: stopping the server: %w", err)
	}
	return nil
}
