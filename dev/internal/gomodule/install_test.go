package gomodule_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
)

// `go install github.com/flowstate/flowstate/dev/cmd/flowstate@v0.2.0` works as a user runs it,
// without the internet: a module proxy directory serves this checkout's two modules as the
// v0.2.0 release, the module cache serves their dependencies, and the installed command runs.
//
// The install builds the Temporal server. It runs with a module cache of its own, so that it
// neither reads nor leaves a v0.2.0 of flowstate in the shared one (where a later run, or a run
// in another checkout, would take it for this one), and with -trimpath, which makes compiled
// packages independent of where that cache is: the build cache serves them to every later run,
// and to cmd/flowstate's end-to-end test, which builds with -trimpath too. Only the first build
// on a machine compiles the server (minutes); after that the install takes well under a minute,
// most of it unpacking modules.
func TestGoInstall(t *testing.T) {
	start := time.Now()
	proxyDir := t.TempDir()
	serveModule(t, proxyDir, libModule, release, moduleDir(t, libModule))
	serveModule(t, proxyDir, devModule, release, moduleDir(t, devModule))

	work := t.TempDir() // no go.mod here: `go install pkg@version` needs none
	gobin := filepath.Join(work, "bin")
	env := userEnv(fileURL(proxyDir)+","+fileURL(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")),
		"GOMODCACHE="+filepath.Join(work, "modcache"),
		"GOBIN="+gobin,
		// -modcacherw: the temporary module cache can be removed.
		"GOFLAGS=-modcacherw -trimpath",
		// The checksum database is on the internet: the downloads are checked against this
		// repository's go.sum files below instead.
		"GOSUMDB=off",
	)
	cmd := devModule + "/cmd/flowstate@" + release
	runGo(t, work, env, "install", cmd)
	installed := time.Since(start)
	verified := checkDownloads(t, filepath.Join(work, "modcache"),
		filepath.Join(moduleDir(t, libModule), "go.sum"), filepath.Join(moduleDir(t, devModule), "go.sum"))

	bin := filepath.Join(gobin, "flowstate")
	require.FileExists(t, bin)
	out, err := exec.Command(bin, "-h").CombinedOutput()
	require.NoError(t, err, "flowstate -h:\n%s", out)
	require.Contains(t, string(out), "flowstate dev [flags]")
	require.Contains(t, string(out), "flowstate worker [flags]")

	// The binary was built from the two modules at v0.2.0, not from a replaced directory.
	info := runGo(t, work, env, "version", "-m", bin)
	require.Regexp(t, `(?m)^\s+mod\s+`+regexpQuote(devModule)+`\s+`+regexpQuote(release)+`\s`, info)
	require.Regexp(t, `(?m)^\s+dep\s+`+regexpQuote(libModule)+`\s+`+regexpQuote(release)+`\s`, info)
	require.NotRegexp(t, `=>`, info, "no module of the binary is replaced")
	require.Regexp(t, `(?m)^\s+dep\s+go\.temporal\.io/server\s`, info)
	report(t, "go install %s: works offline from a module proxy directory and the module cache, in %s "+
		"(%d modules downloaded, each matching go.sum)", cmd, installed.Round(time.Second), verified)
}

// checkDownloads checks the hash of every module zip in the module cache modCache against the
// go.sum files, and returns how many it checked. flowstate's own modules are not in them.
func checkDownloads(t *testing.T, modCache string, goSums ...string) int {
	t.Helper()
	want := map[string]string{}
	for _, f := range goSums {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(data), "\n") {
			if fields := strings.Fields(line); len(fields) == 3 && !strings.HasSuffix(fields[1], "/go.mod") {
				want[fields[0]+"@"+fields[1]] = fields[2]
			}
		}
	}
	download := filepath.Join(modCache, "cache", "download")
	n := 0
	err := filepath.WalkDir(download, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".ziphash") {
			return err
		}
		rel, err := filepath.Rel(download, p)
		if err != nil {
			return err
		}
		escPath, file := path.Split(filepath.ToSlash(rel))
		modPath, err := module.UnescapePath(strings.TrimSuffix(escPath, "/@v/"))
		if err != nil {
			return err
		}
		version, err := module.UnescapeVersion(strings.TrimSuffix(file, ".ziphash"))
		if err != nil {
			return err
		}
		if modPath == libModule || modPath == devModule {
			return nil
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		key := modPath + "@" + version
		require.Contains(t, want, key, "the install downloaded %s, which no go.sum of this repository lists", key)
		require.Equal(t, want[key], strings.TrimSpace(string(got)), "checksum of %s", key)
		n++
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, n, "the install downloaded no module")
	return n
}

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }
