package devserver

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/searchattribute/sadefs"

	"github.com/flowstate/flowstate/internal/names"
)

// DefaultNamespace is the namespace a server registers when Options.Namespaces is empty.
const DefaultNamespace = "default"

// DefaultIP is the address a server listens on when Options.IP is empty.
const DefaultIP = "127.0.0.1"

// DefaultSearchAttributes are the custom search attributes a server registers on every namespace
// when Options.SearchAttributes is nil: the ones flowstate writes (FlowState, a Keyword).
// Use DefaultSearchAttributesWith to add your own without losing them.
var DefaultSearchAttributes = map[string]enumspb.IndexedValueType{
	names.SAState: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// DefaultSearchAttributesWith returns a copy of DefaultSearchAttributes with extra added.
func DefaultSearchAttributesWith(extra map[string]enumspb.IndexedValueType) map[string]enumspb.IndexedValueType {
	m := maps.Clone(DefaultSearchAttributes)
	maps.Copy(m, extra)
	return m
}

// Options configure a server. The zero value is an in-memory server on a free port of 127.0.0.1
// with the "default" namespace, the FlowState search attribute, no Web UI and no logs.
type Options struct {
	// IP is the address every service of the server listens on, and the Web UI too. Listening
	// beyond the loopback interface exposes an unauthenticated Temporal server: opt in knowingly.
	// default: "127.0.0.1"
	IP string
	// Port is the frontend gRPC port, the one clients dial. The history, matching and worker
	// services take free ports beside it.
	// default: 0, a free port
	Port int
	// DBFile is the SQLite file that keeps the server's state across restarts. The file is
	// created with its schema when it does not exist (its directory must), and reused when it
	// does. Two servers of one process cannot share a file.
	// default: "", an in-memory database that is gone when the process ends
	DBFile string
	// Namespaces are registered at start (those the file already holds are kept as they are);
	// the first one is the server's Namespace.
	// default: []string{"default"}
	Namespaces []string
	// SearchAttributes are registered on every namespace in Namespaces at start, also when the
	// namespace already exists in DBFile. An attribute that exists with another type is an error.
	// An empty non-nil map registers none.
	// default: DefaultSearchAttributes (FlowState, Keyword)
	SearchAttributes map[string]enumspb.IndexedValueType
	// UIPort is the port of the Temporal Web UI, served on IP.
	// default: 0, no Web UI
	UIPort int
	// Logger receives the server's own logs, which are many: a handler at slog.LevelWarn keeps
	// the useful ones.
	// default: nil, the server's logs are discarded
	Logger *slog.Logger
	// DynamicConfig sets Temporal dynamic config values by key, such as
	// "limit.maxIDLength": 1000. They are added to, and win over, the dev defaults (search
	// attributes visible at once, higher persistence QPS), as the temporal CLI's dev server does.
	// default: none
	DynamicConfig map[string]any
	// ReadyTimeout bounds the wait for the frontend to answer once the server has started,
	// besides the context given to Start.
	// default: 30 seconds
	ReadyTimeout time.Duration
}

// withDefaults returns o with its zero fields set to their defaults, or an error when a field
// holds a value no server can use.
func (o Options) withDefaults() (Options, error) {
	if o.IP == "" {
		o.IP = DefaultIP
	}
	if net.ParseIP(o.IP) == nil {
		return o, fmt.Errorf("devserver: IP %q is not an IP address", o.IP)
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("devserver: port %d is out of range", o.Port)
	}
	if o.UIPort < 0 || o.UIPort > 65535 {
		return o, fmt.Errorf("devserver: UI port %d is out of range", o.UIPort)
	}
	if o.UIPort != 0 && o.UIPort == o.Port {
		return o, fmt.Errorf("devserver: UI port and frontend port are both %d", o.Port)
	}
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{DefaultNamespace}
	}
	seen := make(map[string]bool, len(o.Namespaces))
	for _, ns := range o.Namespaces {
		if ns == "" {
			return o, fmt.Errorf("devserver: empty namespace name in %q", o.Namespaces)
		}
		if seen[ns] {
			return o, fmt.Errorf("devserver: namespace %q is listed twice", ns)
		}
		seen[ns] = true
	}
	if o.SearchAttributes == nil {
		o.SearchAttributes = DefaultSearchAttributes
	}
	for name, t := range o.SearchAttributes {
		if name == "" {
			return o, fmt.Errorf("devserver: empty search attribute name")
		}
		if sadefs.IsReserved(name) {
			return o, fmt.Errorf("devserver: search attribute %q is a reserved Temporal name", name)
		}
		if _, ok := enumspb.IndexedValueType_name[int32(t)]; !ok || t == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return o, fmt.Errorf("devserver: search attribute %q has no valid type (%d)", name, t)
		}
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	return o, nil
}
