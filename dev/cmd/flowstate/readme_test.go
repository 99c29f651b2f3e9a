package main_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowstate/flowstate/dev/internal/temporalcli"
	"github.com/flowstate/flowstate/dev/internal/workerproc"
)

// readmeBlock is a fenced block of README.md.
type readmeBlock struct {
	lang string
	body string
	line int // of the opening fence
	// expect holds, for an sh block, the lines of the text block right after it: what its
	// output must show, in order ("…" stands for anything).
	expect []string
}

// readmeBlocks returns README.md's fenced blocks, in order.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var blocks []readmeBlock
	var cur *readmeBlock
	var body []string
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(line, "```"), line: i + 1}
			body = nil
		case cur != nil && line == "```":
			cur.body = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	require.Nil(t, cur, "README.md: a block opened at line %d is never closed", cur)
	for i := range blocks {
		if blocks[i].lang == "sh" && i+1 < len(blocks) && blocks[i+1].lang == "text" {
			for _, l := range strings.Split(strings.TrimRight(blocks[i+1].body, "\n"), "\n") {
				if strings.TrimSpace(l) != "" {
					blocks[i].expect = append(blocks[i].expect, l)
				}
			}
		}
	}
	return blocks
}

var (
	offsetPattern   = regexp.MustCompile(`\+[0-9][0-9.a-zµ]*`)
	durationPattern = regexp.MustCompile(`\bin [0-9][0-9.]*(ns|µs|ms|s|m)\b`)
	uuidPattern     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	exitPattern     = regexp.MustCompile(`# exit status (\d+)`)
)

// normaliseLine makes a line of output comparable with the README's: offsets (+23ms), other
// durations (in 512ms) and run IDs stand for any, and runs of spaces count as one.
func normaliseLine(s string) string {
	s = offsetPattern.ReplaceAllString(s, "+T")
	s = durationPattern.ReplaceAllString(s, "in T")
	s = uuidPattern.ReplaceAllString(s, "RUN-ID")
	return strings.Join(strings.Fields(s), " ")
}

// missingLine returns the first expected line that output does not show in order, or "".
func missingLine(output string, expect []string) string {
	var out []string
	for _, l := range strings.Split(output, "\n") {
		out = append(out, normaliseLine(l))
	}
	at := 0
	for _, e := range expect {
		var parts []string
		for _, p := range strings.Split(normaliseLine(e), "…") {
			parts = append(parts, regexp.QuoteMeta(p))
		}
		re := regexp.MustCompile(strings.Join(parts, ".*"))
		found := false
		for ; at < len(out); at++ {
			if re.MatchString(out[at]) {
				found = true
				at++
				break
			}
		}
		if !found {
			return e
		}
	}
	return ""
}

// readOnly reports whether every command of a block only reads: such a block is run again, for a
// while, until its output shows what the README says (what a reader sees a second later; the test
// types faster).
func readOnly(body string) bool {
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		ok := false
		for _, p := range []string{"flowstate states ", "temporal workflow list ", "temporal workflow query ",
			"temporal workflow describe ", "temporal workflow result "} {
			ok = ok || strings.HasPrefix(l, p)
		}
		if !ok {
			return false
		}
	}
	return true
}

// background is a block that keeps running (flowstate dev, a worker) until the test stops it with
// Ctrl-C, as a reader would.
type background struct {
	line   int
	cmd    *exec.Cmd
	out    *workerproc.Buffer
	exited chan struct{} // closed when the process has exited, err then set
	err    error
}

// The README, run as a reader would: every ```sh block in order, in a shell, from the repository's
// root, with a HOME and a GOBIN of their own, against the `flowstate dev` the README starts, with
// the real temporal CLI. Each block must exit 0 (or with the status its "# exit status N" comment
// gives) and print the lines of the ```text block after it. Blocks marked "# keeps running" run in
// the background until the end, when they get Ctrl-C and must stop cleanly. No block may log an
// error.
//
// Two departures from the letter, each to keep the test hermetic and quick:
//   - `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` links the CLI that the same
//     command installed into the test cache (temporalcli), instead of building it again (minutes);
//   - `flowstate dev` gets --port and --ui-port on free ports (and TEMPORAL_ADDRESS points every
//     block there), so that the test runs beside another flowstate dev or Temporal server.
func TestReadme(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))

	home := t.TempDir()
	bin := filepath.Join(home, "go-bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	port, uiPort := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := readmeEnv(t, home, bin, addr)
	cli := temporalcli.Path(t)

	var bg []*background
	t.Cleanup(func() {
		for _, b := range bg {
			select {
			case <-b.exited:
			default:
				_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
				<-b.exited
			}
		}
	})

	ran := 0
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		ran++
		script := substitute(b.body, cli, port, uiPort)
		for i, e := range b.expect { // where the README's flowstate dev listens, this one does
			e = strings.ReplaceAll(e, "127.0.0.1:7233", addr)
			b.expect[i] = strings.ReplaceAll(e, "127.0.0.1:8233", fmt.Sprintf("127.0.0.1:%d", uiPort))
		}
		if strings.Contains(b.body, "# keeps running") {
			bg = append(bg, startBackground(t, b, script, root, env))
			continue
		}
		runBlock(t, b, script, root, env)
	}
	require.GreaterOrEqual(t, ran, 15, "README.md lost its sh blocks?")

	// flowstate dev serves the Web UI where --ui-port says.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", uiPort))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Ctrl-C, in the reverse order of their start: each stops cleanly, with no error logged.
	for i := len(bg) - 1; i >= 0; i-- {
		b := bg[i]
		require.NoError(t, syscall.Kill(-b.cmd.Process.Pid, syscall.SIGINT))
		select {
		case <-b.exited:
			require.NoError(t, b.err, "README.md:%d did not stop cleanly on Ctrl-C:\n%s", b.line, b.out.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("README.md:%d did not stop on Ctrl-C:\n%s", b.line, b.out.String())
		}
		out := b.out.String()
		t.Logf("README.md:%d after Ctrl-C:\n%s", b.line, out)
		require.NotContains(t, out, "level=ERROR", "README.md:%d", b.line)
		require.NotContains(t, out, "level=DEBUG", "README.md:%d: no debug lines unless asked for", b.line)
	}
}

// readmeEnv is the environment of the README's blocks: the test's, with a HOME and a GOBIN of
// their own (the Go caches stay where they are), and Temporal at addr.
func readmeEnv(t *testing.T, home, bin, addr string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME" || k == "PATH" || k == "GOBIN" || k == "XDG_CONFIG_HOME",
			strings.HasPrefix(k, "TEMPORAL_"), strings.HasPrefix(k, "FLOWSTATE_"):
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOENV"} {
		v, err := exec.Command("go", "env", k).Output()
		require.NoError(t, err)
		env = append(env, k+"="+strings.TrimSpace(string(v)))
	}
	return append(env,
		"HOME="+home,
		"GOBIN="+bin,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TEMPORAL_ADDRESS="+addr,
		"FLOWSTATE_EXAMPLES_DIR="+filepath.Join(home, "examples"),
	)
}

// substitute makes the two departures TestReadme describes.
func substitute(body, cli string, port, uiPort int) string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(l, "go install "+temporalcli.Module+"@"):
			l = fmt.Sprintf("ln -sf %s \"$GOBIN/temporal\"", strconv.Quote(cli))
		case strings.HasPrefix(l, "flowstate dev") && strings.Contains(l, "# keeps running"):
			l = strings.Replace(l, "flowstate dev", fmt.Sprintf("flowstate dev --port %d --ui-port %d", port, uiPort), 1)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// runBlock runs a block to its end and checks its exit status and output.
func runBlock(t *testing.T, b readmeBlock, script, dir string, env []string) {
	t.Helper()
	want := 0
	if m := exitPattern.FindStringSubmatch(b.body); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", "umask 022\n"+script)
		cmd.Dir, cmd.Env = dir, env
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err, "README.md:%d", b.line)
		}
		missing := missingLine(string(out), b.expect)
		if (code != want || missing != "") && readOnly(b.body) && time.Now().Before(deadline) {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		t.Logf("README.md:%d (%s, attempt %d)\n$ %s\n%s", b.line, time.Since(t0).Round(time.Millisecond), attempt,
			strings.ReplaceAll(strings.TrimRight(script, "\n"), "\n", "\n$ "), out)
		require.Equal(t, want, code, "README.md:%d: exit status", b.line)
		require.Empty(t, missing, "README.md:%d: the output lacks this line of the README (in order):\n%s", b.line, missing)
		require.NotContains(t, string(out), "level=ERROR", "README.md:%d", b.line)
		require.NotContains(t, string(out), "(type: ", "README.md:%d: an SDK error chain", b.line)
		return
	}
}

// startBackground starts a block that keeps running and waits until its output shows the lines
// the README gives.
func startBackground(t *testing.T, b readmeBlock, script, dir string, env []string) *background {
	t.Helper()
	cmd := exec.Command("bash", "-e", "-c", "umask 022\n"+script)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the whole group
	out := &workerproc.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	bgp := &background{line: b.line, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		bgp.err = cmd.Wait()
		close(bgp.exited)
	}()
	deadline := time.After(90 * time.Second)
	for missingLine(out.String(), b.expect) != "" {
		select {
		case <-bgp.exited:
			t.Fatalf("README.md:%d exited (%v) before it showed %q:\n%s", b.line, bgp.err, missingLine(out.String(), b.expect), out.String())
		case <-deadline:
			t.Fatalf("README.md:%d did not show %q within 90s:\n%s", b.line, missingLine(out.String(), b.expect), out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	sc := bufio.NewScanner(strings.NewReader(script))
	sc.Scan()
	t.Logf("README.md:%d started in the background: %s", b.line, sc.Text())
	return bgp
}
