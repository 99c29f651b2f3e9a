package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/serialization"
	"go.temporal.io/server/common/persistence/sql"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	"go.temporal.io/server/common/searchattribute/sadefs"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// memDBs numbers the in-memory databases of this process. Temporal's SQLite plugin shares one
// connection per DSN across the process, so two servers must never get the same name.
var memDBs atomic.Int64

// openFiles are the database files a server of this process is using.
var openFiles sync.Map

// sqlConfig returns the SQLite persistence config of a database file, or of a fresh in-memory
// database when file is empty.
func sqlConfig(file string) *config.SQL {
	if file == "" {
		return &config.SQL{
			PluginName:        sqliteplugin.PluginName,
			DatabaseName:      fmt.Sprintf("flowstate-devserver-%d-%d", os.Getpid(), memDBs.Add(1)),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}
	}
	return &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      file,
		ConnectAttributes: map[string]string{"mode": "rwc"},
	}
}

// claimFile makes file absolute, checks it can hold a database, and marks it in use by this
// process. release gives it back.
func claimFile(file string) (abs string, release func(), err error) {
	abs, err = filepath.Abs(file)
	if err != nil {
		return "", nil, fmt.Errorf("devserver: database file %q: %w", file, err)
	}
	// The path becomes part of a SQLite URI ("file:PATH?mode=rwc"): these would cut it short.
	if strings.ContainsAny(abs, "?#") {
		return "", nil, fmt.Errorf("devserver: database file %q: the path must not contain '?' or '#'", file)
	}
	if _, loaded := openFiles.LoadOrStore(abs, true); loaded {
		return "", nil, fmt.Errorf("devserver: database file %s is already used by another server of this process", abs)
	}
	return abs, func() { openFiles.Delete(abs) }, nil
}

// prepareDB creates the schema of a new database file, the namespaces, and the search
// attributes on them, before the server starts: the server then loads them at start-up and
// they are usable at once, with no wait for its namespace cache.
func prepareDB(ctx context.Context, conf *config.SQL, file, cluster string, namespaces []string, attrs map[string]enumspb.IndexedValueType) error {
	if file != "" {
		fresh, err := needsSchema(file)
		if err != nil {
			return err
		}
		if fresh {
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return fmt.Errorf("devserver: creating the schema in %s: %w", file, err)
			}
		}
	}
	where := "the in-memory database"
	if file != "" {
		where = file
	}
	nsConfigs := make([]*sqliteschema.NamespaceConfig, len(namespaces))
	for i, ns := range namespaces {
		c, err := sqliteschema.NewNamespaceConfig(cluster, ns, false, nil)
		if err != nil {
			return fmt.Errorf("devserver: namespace %q: %w", ns, err)
		}
		nsConfigs[i] = c
	}
	if err := sqliteschema.CreateNamespaces(conf, nsConfigs...); err != nil {
		return fmt.Errorf("devserver: opening %s: %w", where, err)
	}
	if err := ensureSearchAttributes(ctx, conf, cluster, namespaces, attrs); err != nil {
		return fmt.Errorf("devserver: registering search attributes in %s: %w", where, err)
	}
	return nil
}

// needsSchema says whether file is a new database: missing or empty. It fails clearly when the
// file cannot be one.
func needsSchema(file string) (bool, error) {
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(file)
		if d, err := os.Stat(dir); err != nil || !d.IsDir() {
			return false, fmt.Errorf("devserver: database file %s: directory %s does not exist", file, dir)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("devserver: database file %s: %w", file, err)
	}
	if !info.Mode().IsRegular() {
		return false, fmt.Errorf("devserver: database file %s is not a regular file", file)
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("devserver: database file %s cannot be opened for reading and writing: %w", file, err)
	}
	_ = f.Close()
	return info.Size() == 0, nil
}

// ensureSearchAttributes gives every namespace the attributes it lacks, each on a free
// pre-allocated column of its type of the SQL visibility store, as the operator service's
// AddSearchAttributes does on a running server. An attribute that exists with another type is
// an error.
func ensureSearchAttributes(ctx context.Context, conf *config.SQL, cluster string, namespaces []string, attrs map[string]enumspb.IndexedValueType) error {
	if len(attrs) == 0 {
		return nil
	}
	serializer := serialization.NewSerializer()
	factory := sql.NewFactory(*conf, resolver.NewNoopResolver(), cluster, log.NewNoopLogger(), metrics.NoopMetricsHandler, serializer)
	defer factory.Close()
	store, err := factory.NewMetadataStore()
	if err != nil {
		return err
	}
	mgr := persistence.NewMetadataManagerImpl(store, serializer, log.NewNoopLogger(), cluster)

	columns := sadefs.GetDBIndexSearchAttributes(nil).CustomSearchAttributes
	columnNames := slices.Sorted(maps.Keys(columns))
	attrNames := slices.Sorted(maps.Keys(attrs))
	for _, ns := range namespaces {
		resp, err := mgr.GetNamespace(ctx, &persistence.GetNamespaceRequest{Name: ns})
		if err != nil {
			return fmt.Errorf("namespace %q: %w", ns, err)
		}
		nsConf := resp.Namespace.GetConfig()
		aliases := nsConf.GetCustomSearchAttributeAliases() // column -> attribute name
		if aliases == nil {
			aliases = map[string]string{}
		}
		columnOf := make(map[string]string, len(aliases))
		for col, name := range aliases {
			columnOf[name] = col
		}
		changed := false
		for _, name := range attrNames {
			want := attrs[name]
			if col, ok := columnOf[name]; ok {
				if columns[col] != want {
					return fmt.Errorf("namespace %q already has search attribute %q as %s, not %s",
						ns, name, typeName(columns[col]), typeName(want))
				}
				continue
			}
			free := ""
			for _, col := range columnNames {
				if _, used := aliases[col]; !used && columns[col] == want {
					free = col
					break
				}
			}
			if free == "" {
				return fmt.Errorf("namespace %q has no %s search attribute left for %q", ns, typeName(want), name)
			}
			aliases[free] = name
			columnOf[name] = free
			changed = true
		}
		if !changed {
			continue
		}
		meta, err := mgr.GetMetadata(ctx)
		if err != nil {
			return err
		}
		nsConf.CustomSearchAttributeAliases = aliases
		resp.Namespace.ConfigVersion++
		if err := mgr.UpdateNamespace(ctx, &persistence.UpdateNamespaceRequest{
			Namespace:           resp.Namespace,
			IsGlobalNamespace:   resp.IsGlobalNamespace,
			NotificationVersion: meta.NotificationVersion,
		}); err != nil {
			return fmt.Errorf("namespace %q: %w", ns, err)
		}
	}
	return nil
}

func typeName(t enumspb.IndexedValueType) string {
	return strings.TrimPrefix(t.String(), "INDEXED_VALUE_TYPE_")
}
