package devserver

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
)

// The server configuration below follows Temporal's own single-process SQLite servers, both MIT
// licensed, Copyright (c) Temporal Technologies Inc.:
//   - go.temporal.io/server temporaltest/internal/lite_server.go (v1.32.1), and
//   - github.com/temporalio/cli temporalcli/devserver/server.go (v1.5.1), whose static
//     membership (no ringpop gossip) makes start-up fast.

// clusterName is the name of the one cluster a dev server is.
const clusterName = "active"

// devDynamicConfig are the temporal CLI dev server's dynamic config defaults.
var devDynamicConfig = map[dynamicconfig.Key]any{
	// Search attributes are visible as soon as they are created.
	dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	// The search attribute cache being off, persistence QPS limits go up accordingly.
	dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
	dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
	// An activity the workflow schedules goes back to the worker that completed the workflow
	// task, when it has a free slot, in the same response (eager execution, off by default on a
	// server): a sequential loop of tasks runs about 40% faster (13 s → 8 s for 1,000 tasks on a
	// busy two-core machine).
	dynamicconfig.EnableActivityEagerExecution.Key(): true,
	// A small mutable state cache for a small process, and more visibility RPS for the UI.
	dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
	dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	// Stop in milliseconds rather than a second: the frontend drains until its last long poll
	// ends, and these system workers are not stopped with the worker service, so their polls
	// would hold it for the whole one-second drain. Parent close policies are then applied by
	// the history service itself, as it already does for parents with few children; the
	// scanners only collect garbage, which a dev server can do without.
	dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
	dynamicconfig.TaskQueueScannerEnabled.Key():       false,
	dynamicconfig.HistoryScannerEnabled.Key():         false,
	// One partition per task queue: one host gains nothing from four, and a matching service
	// stopped while it loads child partitions retries dialling itself for its whole two-second
	// drain.
	dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
	dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
	// Timers fire when due, not up to a second late: the timer queue reads ahead of now by this
	// shift (1 s by default, so a 10 ms timer took a second). Retry delays and hook backoffs of
	// a few hundred milliseconds are then what they say, at the cost of more frequent reads of
	// a table that lives in the same process.
	dynamicconfig.TimerProcessorMaxTimeShift.Key(): 10 * time.Millisecond,
	// Workflow tasks are dispatched at once, not after up to 50 ms: the transfer queue of the one
	// history shard of a dev server polls at most 20 times a second by default, which made every
	// workflow task of a lone flow wait (a production server with many shards rarely does). A
	// flow of many sequential tasks runs about ten times faster.
	dynamicconfig.TransferProcessorMaxPollRPS.Key(): 1000,
	// Batch operations (`temporal workflow terminate --query …`) at once: the server's default is
	// one per namespace, and a second fails with "Max concurrent batch operation is reached"
	// while the first runs, which a laptop's tests and scripts run into.
	dynamicconfig.FrontendMaxConcurrentBatchOperationPerNamespace.Key(): 64,
	// No external payload accounting: a dev server stores every payload in its own database.
	// When on (the default), the history service walks each new batch of events and writes
	// every payload list back into the event, which can race with a gRPC response still
	// encoding the same event; the race detector stops a test on it.
	dynamicconfig.ExternalPayloadsEnabled.Key(): false,
}

// ports are the gRPC ports of the four services.
type ports struct {
	frontend, history, matching, worker int
}

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// serverConfig returns the static config of a single-host server on o.IP.
func serverConfig(o Options, p ports, sqlConf *config.SQL) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = o.IP
	// No Metrics (a nil config is the no-op handler) and no pprof (port 0): nothing listens
	// beyond the four gRPC ports and the optional UI.

	conf.Persistence.DefaultStore = sqliteplugin.PluginName
	conf.Persistence.VisibilityStore = sqliteplugin.PluginName
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlConf}}

	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             hostPort(o.IP, p.frontend),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	service := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: o.IP}}
	}
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): service(p.frontend),
		string(primitives.HistoryService):  service(p.history),
		string(primitives.MatchingService): service(p.matching),
		string(primitives.WorkerService):   service(p.worker),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = hostPort(o.IP, p.frontend)
	return &conf
}

// serverOptions returns the options of temporal.NewServer.
func serverOptions(o Options, p ports, conf *config.Config, logger serverLogger) ([]temporal.ServerOption, error) {
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	dyn := make(dynamicconfig.StaticClient, len(devDynamicConfig)+len(o.DynamicConfig))
	maps.Copy(dyn, devDynamicConfig)
	for k, v := range o.DynamicConfig {
		dyn[dynamicconfig.MakeKey(k)] = v
	}
	single := func(port int) static.Hosts { return static.SingleLocalHost(hostPort(o.IP, port)) }
	return []temporal.ServerOption{
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: single(p.frontend),
			primitives.HistoryService:  single(p.history),
			primitives.MatchingService: single(p.matching),
			primitives.WorkerService:   single(p.worker),
		}),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dyn),
	}, nil
}
