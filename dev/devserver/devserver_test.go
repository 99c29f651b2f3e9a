package devserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/flowstate/flowstate/dev/devserver"
)

// quiet keeps the SDK's info logs out of test output.
var quiet = log.NewStructuredLogger(slogDiscard())

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func start(t *testing.T, opts devserver.Options) *devserver.Server {
	t.Helper()
	srv, err := devserver.Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	return srv
}

func dial(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := srv.NewClient(t.Context(), client.Options{Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func Greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, Hello, name).Get(ctx, &out)
	return out, err
}

func Hello(ctx context.Context, name string) (string, error) {
	return "hello " + name + " from " + activity.GetInfo(ctx).ActivityType.Name, nil
}

// SetFlowState upserts the FlowState search attribute.
func SetFlowState(ctx workflow.Context, state string) error {
	return workflow.UpsertTypedSearchAttributes(ctx, temporal.NewSearchAttributeKeyKeyword("FlowState").ValueSet(state))
}

// WaitForGo blocks until it receives the "go" signal, then returns its payload.
func WaitForGo(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return "got " + v, nil
}

func TestInMemory(t *testing.T) {
	srv := start(t, devserver.Options{})
	require.Equal(t, "default", srv.Namespace())
	host, port, err := net.SplitHostPort(srv.HostPort())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)
	require.NotEqual(t, "0", port)
	require.Empty(t, srv.UIAddress())

	c := dial(t, srv)

	t.Run("FlowState search attribute", func(t *testing.T) {
		resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
			&operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
		require.NoError(t, err)
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()["FlowState"])
	})

	t.Run("workflow and activity", func(t *testing.T) {
		w := worker.New(c, "greet", worker.Options{})
		w.RegisterWorkflow(Greet)
		w.RegisterActivity(Hello)
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop)

		run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: "greet"}, Greet, "flowstate")
		require.NoError(t, err)
		var out string
		require.NoError(t, run.Get(t.Context(), &out))
		require.Equal(t, "hello flowstate from Hello", out)
	})
}

func TestOptions(t *testing.T) {
	attrs := devserver.DefaultSearchAttributesWith(map[string]enumspb.IndexedValueType{
		"CustomerID": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"Amount":     enumspb.INDEXED_VALUE_TYPE_DOUBLE,
	})
	srv := start(t, devserver.Options{Namespaces: []string{"orders", "billing"}, SearchAttributes: attrs})
	require.Equal(t, "orders", srv.Namespace())
	c := dial(t, srv)
	for _, ns := range []string{"orders", "billing"} {
		resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
			&operatorservice.ListSearchAttributesRequest{Namespace: ns})
		require.NoError(t, err)
		for name, typ := range attrs {
			require.Equal(t, typ, resp.GetCustomAttributes()[name], "%s in %s", name, ns)
		}
	}
}

func TestDBFilePersistsAcrossRestarts(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dev.db")
	opts := devserver.Options{DBFile: db}

	// First life: start a workflow that waits for a signal, then stop the server under it.
	srv, err := devserver.Start(t.Context(), opts)
	require.NoError(t, err)
	c, err := srv.NewClient(t.Context(), client.Options{Logger: quiet})
	require.NoError(t, err)
	run, err := c.ExecuteWorkflow(t.Context(),
		client.StartWorkflowOptions{ID: "persist-me", TaskQueue: "persist"}, WaitForGo)
	require.NoError(t, err)
	c.Close()
	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop(), "a second Stop is harmless")
	_, err = srv.NewClient(t.Context(), client.Options{})
	require.ErrorIs(t, err, devserver.ErrStopped)

	// Second life, on another port: the workflow is still there; signal it and it completes.
	srv = start(t, opts)
	c = dial(t, srv)
	w := worker.New(c, "persist", worker.Options{})
	w.RegisterWorkflow(WaitForGo)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	require.NoError(t, c.SignalWorkflow(t.Context(), "persist-me", run.GetRunID(), "go", "again"))
	var out string
	require.NoError(t, c.GetWorkflow(t.Context(), "persist-me", run.GetRunID()).Get(t.Context(), &out))
	require.Equal(t, "got again", out)

	resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
		&operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
	require.NoError(t, err)
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()["FlowState"])
}

func TestDBFileGainsNewSearchAttributes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "dev.db")
	srv, err := devserver.Start(t.Context(), devserver.Options{DBFile: db, SearchAttributes: map[string]enumspb.IndexedValueType{}})
	require.NoError(t, err)
	require.NoError(t, srv.Stop())

	// Reopened with the defaults, the existing namespace gains FlowState, usable at once.
	srv = start(t, devserver.Options{DBFile: db})
	c := dial(t, srv)
	resp, err := c.OperatorService().ListSearchAttributes(t.Context(),
		&operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace()})
	require.NoError(t, err)
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()["FlowState"])

	w := worker.New(c, "upsert", worker.Options{})
	w.RegisterWorkflow(SetFlowState)
	require.NoError(t, w.Start())
	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: "upsert"}, SetFlowState, "Completed")
	require.NoError(t, err)
	require.NoError(t, run.Get(t.Context(), nil))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		list, err := c.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{Query: `FlowState = "Completed"`})
		require.NoError(ct, err)
		require.Len(ct, list.GetExecutions(), 1)
	}, 10*time.Second, 50*time.Millisecond)
	w.Stop()
	require.NoError(t, srv.Stop())

	// Asked for again with another type, it is a clear error.
	_, err = devserver.Start(t.Context(), devserver.Options{DBFile: db,
		SearchAttributes: map[string]enumspb.IndexedValueType{"FlowState": enumspb.INDEXED_VALUE_TYPE_INT}})
	require.ErrorContains(t, err, `already has search attribute "FlowState" as`)
}

func TestUI(t *testing.T) {
	port := freePort(t)
	srv := start(t, devserver.Options{UIPort: port})
	require.Equal(t, "http://127.0.0.1:"+strconv.Itoa(port), srv.UIAddress())

	for _, path := range []string{"/", "/api/v1/namespaces/default"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.UIAddress()+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		if path == "/" {
			require.Contains(t, string(body), "<html")
		} else {
			var ns struct {
				NamespaceInfo struct{ Name string } `json:"namespaceInfo"`
			}
			require.NoError(t, json.Unmarshal(body, &ns), "%s", body)
			require.Equal(t, "default", ns.NamespaceInfo.Name, "the UI reaches the frontend")
		}
	}
}

func TestErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { taken.Close() })
	takenPort := taken.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, []byte("this is not a SQLite database, not even close to one....................................................."), 0o600))
	inUse := filepath.Join(dir, "in-use.db")

	tests := []struct {
		name string
		opts devserver.Options
		is   error
		msg  string
	}{
		{name: "frontend port in use", opts: devserver.Options{Port: takenPort}, is: devserver.ErrPortInUse, msg: "frontend port"},
		{name: "UI port in use", opts: devserver.Options{UIPort: takenPort}, is: devserver.ErrPortInUse, msg: "UI port"},
		{name: "missing directory", opts: devserver.Options{DBFile: filepath.Join(dir, "nope", "dev.db")}, msg: "does not exist"},
		{name: "not a database", opts: devserver.Options{DBFile: garbage}, msg: garbage},
		{name: "directory as file", opts: devserver.Options{DBFile: dir}, msg: "not a regular file"},
		{name: "bad IP", opts: devserver.Options{IP: "localhost"}, msg: "not an IP address"},
		{name: "reserved attribute", opts: devserver.Options{SearchAttributes: map[string]enumspb.IndexedValueType{"WorkflowId": enumspb.INDEXED_VALUE_TYPE_KEYWORD}}, msg: "reserved"},
		{name: "duplicate namespace", opts: devserver.Options{Namespaces: []string{"a", "a"}}, msg: "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := devserver.Start(t.Context(), tt.opts)
			if srv != nil {
				_ = srv.Stop()
			}
			require.Error(t, err)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			require.ErrorContains(t, err, tt.msg)
		})
	}

	t.Run("file used twice", func(t *testing.T) {
		start(t, devserver.Options{DBFile: inUse})
		_, err := devserver.Start(t.Context(), devserver.Options{DBFile: inUse})
		require.ErrorContains(t, err, "already used by another server")
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		srv, err := devserver.Start(ctx, devserver.Options{})
		if srv != nil {
			_ = srv.Stop()
		}
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// BenchmarkStartStop measures how long a fresh in-memory server takes to answer, and to stop.
func BenchmarkStartStop(b *testing.B) {
	var ready, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		srv, err := devserver.Start(b.Context(), devserver.Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := srv.Stop(); err != nil {
			b.Fatal(err)
		}
		ready += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ms-ready/op")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "ms-stop/op")
}
