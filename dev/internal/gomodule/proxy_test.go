package gomodule_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// serveModule adds the module in dir to the module proxy directory proxyDir (GOPROXY=file://…)
// at version: its @v/list, .info, .mod and .zip, as a module proxy serves a release. The zip
// holds the files of the checkout as a commit of it would: tracked and untracked files that git
// does not ignore, without nested modules.
func serveModule(t *testing.T, proxyDir, modPath, version, dir string) {
	t.Helper()
	escaped, err := module.EscapePath(modPath)
	require.NoError(t, err)
	vdir := filepath.Join(proxyDir, filepath.FromSlash(escaped), "@v")
	require.NoError(t, os.MkdirAll(vdir, 0o755))

	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	require.NoError(t, err)
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC().Truncate(time.Second)})
	require.NoError(t, err)
	var zip bytes.Buffer
	m := module.Version{Path: modPath, Version: version}
	require.NoError(t, modzip.Create(&zip, m, checkoutFiles(t, dir)), "zipping %s", m)

	require.NoError(t, os.WriteFile(filepath.Join(vdir, "list"), []byte(version+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vdir, version+".info"), info, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vdir, version+".mod"), gomod, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(vdir, version+".zip"), zip.Bytes(), 0o644))
	t.Logf("serving %s: %d KiB zip", m, zip.Len()/1024)
}

// checkoutFiles lists the files of the module in dir as git sees them (tracked, or untracked and
// not ignored, and present), leaving out nested modules.
func checkoutFiles(t *testing.T, dir string) []modzip.File {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "git ls-files in %s", dir)
	names := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	var nested []string
	for _, name := range names {
		if d := path.Dir(name); path.Base(name) == "go.mod" && d != "." {
			nested = append(nested, d+"/")
		}
	}
	var files []modzip.File
	for _, name := range names {
		if slicesHasPrefix(nested, name) {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
		if os.IsNotExist(err) {
			continue // deleted in the checkout, not yet committed
		}
		require.NoError(t, err)
		if !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, checkoutFile{path: name, abs: filepath.Join(dir, filepath.FromSlash(name)), info: fi})
	}
	require.NotEmpty(t, files, "no files in %s", dir)
	return files
}

func slicesHasPrefix(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// checkoutFile is a file of the checkout, as x/mod/zip wants it.
type checkoutFile struct {
	path string
	abs  string
	info os.FileInfo
}

func (f checkoutFile) Path() string                 { return f.path }
func (f checkoutFile) Lstat() (os.FileInfo, error)  { return f.info, nil }
func (f checkoutFile) Open() (io.ReadCloser, error) { return os.Open(f.abs) }
