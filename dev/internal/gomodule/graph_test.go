package gomodule_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

// maxExtraModules is how many more modules a user module importing flowstate may have in its
// graph than one importing the plain Temporal SDK: flowstate itself, slack-go and what they need.
const maxExtraModules = 10

// libraryRequires are the modules the library may require directly (by path prefix): the
// Temporal SDK (with its contrib modules) and API, slack-go and testify.
var libraryRequires = []string{"go.temporal.io/sdk", "go.temporal.io/api", "github.com/slack-go/slack", "github.com/stretchr/testify"}

// isServer says whether a module or package path belongs to the Temporal server, or to
// flowstate's dev module, which embeds it.
func isServer(path string) bool {
	return path == "go.temporal.io/server" || strings.HasPrefix(path, "go.temporal.io/server/") ||
		path == devModule || strings.HasPrefix(path, devModule+"/")
}

// What `go get github.com/flowstate/flowstate` brings into a user's module: a user module
// importing adapter, worker and hooks/slack has a module graph within a few modules of one
// importing the plain Temporal SDK, and no Temporal server in it. No package of the library
// imports the server either.
func TestUserModuleGraph(t *testing.T) {
	root := moduleDir(t, libModule)
	lib := parseModFile(t, filepath.Join(root, "go.mod"))
	var sdkVersion string
	for _, r := range lib.Require {
		require.False(t, isServer(r.Mod.Path), "the library's go.mod requires %s", r.Mod)
		if r.Mod.Path == "go.temporal.io/sdk" {
			sdkVersion = r.Mod.Version
		}
		if !r.Indirect {
			require.True(t, slices.ContainsFunc(libraryRequires, func(p string) bool { return strings.HasPrefix(r.Mod.Path, p) }),
				"the library's go.mod requires %s directly; it may only require %s", r.Mod, libraryRequires)
		}
	}
	require.NotEmpty(t, sdkVersion, "the library's go.mod requires no go.temporal.io/sdk")
	// A user's go.sum gets these checksums from the checksum database; starting from ours keeps
	// the test offline.
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)

	env := userEnv(cacheFirstProxy(t))
	flows := throwawayModule(t, "example.com/flows", sums,
		"require "+libModule+" "+release+"\nreplace "+libModule+" => "+root+"\n",
		libModule+"/adapter", libModule+"/worker", libModule+"/hooks/slack")
	plain := throwawayModule(t, "example.com/plain", sums,
		"require go.temporal.io/sdk "+sdkVersion+"\n",
		"go.temporal.io/sdk/client", "go.temporal.io/sdk/worker", "go.temporal.io/sdk/workflow")

	graph := func(dir string) []string {
		runGo(t, dir, env, "mod", "tidy")
		var paths []string
		for _, line := range strings.Split(strings.TrimSpace(runGo(t, dir, env, "list", "-m", "all")), "\n") {
			paths = append(paths, strings.Fields(line)[0])
		}
		return paths
	}
	withFlowstate, withSDK := graph(flows), graph(plain)
	for _, m := range append(slices.Clone(withFlowstate), withSDK...) {
		require.False(t, isServer(m), "%s is in a user's module graph", m)
	}
	require.Contains(t, withFlowstate, libModule)
	var extra []string
	for _, m := range withFlowstate[1:] {
		if !slices.Contains(withSDK, m) {
			extra = append(extra, m)
		}
	}
	for _, m := range withSDK[1:] {
		require.Contains(t, withFlowstate, m, "a module of the plain SDK's graph is missing from flowstate's")
	}
	report(t, "go list -m all: %d modules in a user module importing flowstate's adapter, worker and hooks/slack; "+
		"%d importing the plain Temporal SDK %s (client, worker, workflow)", len(withFlowstate), len(withSDK), sdkVersion)
	report(t, "  the %d more: %s", len(extra), strings.Join(extra, ", "))
	require.LessOrEqual(t, len(withFlowstate), len(withSDK)+maxExtraModules,
		"flowstate adds %d modules to a user's graph (at most %d allowed): %s", len(extra), maxExtraModules, extra)

	// Every package of the library, as the user module builds it: none imports the server.
	deps := strings.Fields(runGo(t, flows, env, "list", "-deps", libModule+"/..."))
	require.Contains(t, deps, libModule+"/testsuite")
	require.Contains(t, deps, "go.temporal.io/sdk/worker")
	for _, p := range deps {
		require.False(t, isServer(p), "a library package imports %s", p)
	}
	report(t, "go list -deps %s/...: %d packages, none of the Temporal server", libModule, len(deps))
}

func parseModFile(t *testing.T, path string) *modfile.File {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := modfile.Parse(path, data, nil)
	require.NoError(t, err)
	return f
}

// throwawayModule writes a module in a temporary directory: a go.mod with the given
// requirements, a go.sum, and a main package importing pkgs.
func throwawayModule(t *testing.T, path string, sums []byte, requires string, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	gomod := "module " + path + "\n\ngo " + goVersion(t) + "\n\n" + requires
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n")
	for _, p := range pkgs {
		main.WriteString("\t_ \"" + p + "\"\n")
	}
	main.WriteString(")\n\nfunc main() {}\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(main.String()), 0o644))
	return dir
}

// goVersion is the go line of the library's go.mod, which a user module needs at least.
func goVersion(t *testing.T) string {
	t.Helper()
	f := parseModFile(t, filepath.Join(moduleDir(t, libModule), "go.mod"))
	require.NotNil(t, f.Go)
	return f.Go.Version
}
