package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
)

// uiServer is the Temporal Web UI (github.com/temporalio/ui-server/v2, the server the temporal
// CLI's dev server embeds) on a listener of ours.
//
// The routes are assembled as ui-server's server.NewServer does (server/server.go, v2.55.0, MIT,
// Copyright (c) Temporal Technologies Inc.), rather than by calling it: its Start binds the port
// itself and calls os.Exit through echo's Logger.Fatal when it cannot, and NewServer panics on
// bad config. Here the port is bound before Start returns, so "port in use" is an error.
type uiServer struct {
	url  string
	http *http.Server
	done chan struct{}
}

func startUI(o Options, frontend string) (*uiServer, error) {
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: frontend,
		Host:                o.IP,
		Port:                o.UIPort,
		EnableUI:            true,
		DefaultNamespace:    o.Namespaces[0],
		// A local server has no TLS: the CSRF cookie must travel over plain HTTP.
		CORS: uiconfig.CORS{CookieInsecure: true},
		// No calls out of the machine to fetch news.
		DisableNewsFetch: true,
		HideLogs:         true,
		// RefreshInterval stays 0: the refreshing goroutine of ConfigProviderWithRefresh never
		// exits once started.
	}
	provider, err := uiconfig.NewConfigProviderWithRefresh(cfg)
	if err != nil {
		return nil, fmt.Errorf("devserver: UI config: %w", err)
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Use(middleware.Recover())
	e.Use(middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader,
			"Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   provider,
	}))
	e.Use(middleware.Secure())
	e.Use(csrf.EnsureTokenCookie(false))
	e.Use(middleware.CSRFWithConfig(csrf.MiddlewareConfig(provider, false)))
	e.Pre(route.PublicPath(cfg.PublicPath))
	route.SetHealthRoute(e)
	apiMiddleware := []api.Middleware{
		headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"}),
	}
	if err := route.SetAPIRoutes(e, provider, apiMiddleware); err != nil {
		return nil, fmt.Errorf("devserver: UI API routes: %w", err)
	}
	route.SetAuthRoutes(e, provider)
	assets, err := ui.Assets()
	if err != nil {
		return nil, fmt.Errorf("devserver: UI assets: %w", err)
	}
	if assets, err = fs.Sub(assets, "local"); err != nil {
		return nil, fmt.Errorf("devserver: UI assets: %w", err)
	}
	if err := route.SetUIRoutes(e, cfg.PublicPath, assets, provider); err != nil {
		return nil, fmt.Errorf("devserver: UI routes: %w", err)
	}
	route.SetRenderRoute(e, "/")

	addr := hostPort(o.IP, o.UIPort)
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("devserver: UI port %d on %s: %w", o.UIPort, o.IP, ErrPortInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("devserver: UI on %s: %w", addr, err)
	}
	u := &uiServer{
		url:  "http://" + addr,
		http: &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(u.done)
		_ = u.http.Serve(ln) // returns http.ErrServerClosed after stop
	}()
	return u, nil
}

// stop closes the UI's listener and connections, waiting a moment for requests in flight.
func (u *uiServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := u.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = u.http.Close()
	}
	<-u.done
	if err != nil {
		return fmt.Errorf("devserver: stopping the UI: %w", err)
	}
	return nil
}
