package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// result is what one run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// runAt runs the command line args with stdin and the clock fixed at now
// (the zero time: time.Now).
func runAt(t *testing.T, now time.Time, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, now: time.Now}
	if !now.IsZero() {
		c.now = func() time.Time { return now }
	}
	code := c.run(args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// runCmd runs the command line args through run, as main does.
func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// check compares a result with the wanted exit status and the strings
// each stream must (and must not) contain.
type check struct {
	code         int
	stdout       []string // substrings stdout must contain
	stderr       []string // substrings stderr must contain
	absent       []string // substrings neither stream may contain
	emptyStdout  bool
	emptyStderr  bool
	stdoutPrefix string
	firstLine    string // stdout's first line must contain it
}

func (want check) verify(t *testing.T, got result) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, want.code, got.stdout, got.stderr)
	}
	for _, s := range want.stdout {
		if !strings.Contains(got.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, got.stdout)
		}
	}
	for _, s := range want.stderr {
		if !strings.Contains(got.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, got.stderr)
		}
	}
	for _, s := range want.absent {
		if strings.Contains(got.stdout, s) || strings.Contains(got.stderr, s) {
			t.Errorf("output contains %q:\nstdout:\n%s\nstderr:\n%s", s, got.stdout, got.stderr)
		}
	}
	if want.emptyStdout && got.stdout != "" {
		t.Errorf("stdout not empty:\n%s", got.stdout)
	}
	if want.emptyStderr && got.stderr != "" {
		t.Errorf("stderr not empty:\n%s", got.stderr)
	}
	if want.stdoutPrefix != "" && !strings.HasPrefix(got.stdout, want.stdoutPrefix) {
		t.Errorf("stdout does not start with %q:\n%s", want.stdoutPrefix, got.stdout)
	}
	if want.firstLine != "" {
		first, _, _ := strings.Cut(got.stdout, "\n")
		if !strings.Contains(first, want.firstLine) {
			t.Errorf("first line %q lacks %q", first, want.firstLine)
		}
	}
}

func TestTopLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want check
	}{
		{"no arguments", nil, check{code: 2, emptyStdout: true, stderr: []string{"usage: sessionkit COMMAND", "keygen"}}},
		{"-h", []string{"-h"}, check{code: 0, emptyStderr: true, stdout: []string{"usage: sessionkit COMMAND", "keygen"}}},
		{"--help", []string{"--help"}, check{code: 0, stdout: []string{"usage: sessionkit COMMAND"}}},
		{"help", []string{"help"}, check{code: 0, stdout: []string{"usage: sessionkit COMMAND"}}},
		{"help command", []string{"help", "jwks"}, check{code: 0, stdoutPrefix: "usage: sessionkit jwks FILE..."}},
		{"help unknown", []string{"help", "nope"}, check{code: 2, stderr: []string{`unknown command "nope"`}}},
		{"unknown command", []string{"frobnicate"}, check{code: 2, emptyStdout: true, stderr: []string{`unknown command "frobnicate"`, "usage: sessionkit COMMAND"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runCmd(t, "", tt.args...))
		})
	}
}

// TestEveryCommandHelp runs -h and a mistyped flag on every subcommand,
// and checks that the top-level usage lists it.
func TestEveryCommandHelp(t *testing.T) {
	t.Parallel()
	top := runCmd(t, "", "-h").stdout
	for _, cmd := range commands {
		t.Run(cmd.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(top, "  "+cmd.name+" ") || !strings.Contains(top, cmd.summary+"\n") {
				t.Errorf("sessionkit -h does not list %s (%s):\n%s", cmd.name, cmd.summary, top)
			}
			check{
				code:         0,
				stdoutPrefix: "usage: " + cmd.synopsis + "\n",
				stdout:       []string{"\nexample:\n  sessionkit " + cmd.name},
				emptyStderr:  true,
			}.verify(t, runCmd(t, "", cmd.name, "-h"))
			check{
				code:        2,
				emptyStdout: true,
				stderr: []string{
					"sessionkit " + cmd.name + ": flag provided but not defined: -no-such-flag",
					"usage: " + cmd.synopsis,
					"Run 'sessionkit " + cmd.name + " -h'",
				},
			}.verify(t, runCmd(t, "", cmd.name, "-no-such-flag"))
		})
	}
}

func TestParseArguments(t *testing.T) {
	t.Parallel()
	cmd := &command{name: "test", synopsis: "test"}
	tests := []struct {
		name    string
		args    []string
		pos     []string
		flag    string
		boolean bool
	}{
		{"flags first", []string{"-f", "x", "a", "b"}, []string{"a", "b"}, "x", false},
		{"flags after", []string{"a", "-f", "x", "b", "-b"}, []string{"a", "b"}, "x", true},
		{"flag=value", []string{"a", "-f=x"}, []string{"a"}, "x", false},
		{"double dash", []string{"a", "--", "-f", "y"}, []string{"a", "-f", "y"}, "", false},
		{"double dash as a value", []string{"-f", "--", "a", "-b"}, []string{"a"}, "--", true},
		{"bool before double dash", []string{"-b", "--", "-f"}, []string{"-f"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
			fs := c.flags(cmd)
			f := fs.String("f", "", "")
			b := fs.Bool("b", false, "")
			pos, err := c.parse(cmd, fs, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, "|") != strings.Join(tt.pos, "|") || *f != tt.flag || *b != tt.boolean {
				t.Errorf("parse(%q) = %q, -f %q, -b %v; want %q, %q, %v", tt.args, pos, *f, *b, tt.pos, tt.flag, tt.boolean)
			}
		})
	}
}

// TestBinary builds the command as go install would and runs -h and a
// real subcommand, to prove the main package works.
func TestBinary(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sessionkit")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "-h").Output()
	if err != nil {
		t.Fatalf("sessionkit -h: %v", err)
	}
	if !bytes.Contains(out, []byte("usage: sessionkit COMMAND")) {
		t.Errorf("sessionkit -h printed:\n%s", out)
	}

	keyFile := filepath.Join(dir, "key.pem")
	cmd := exec.Command(bin, "keygen", "-alg", "ES256", "-o", keyFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sessionkit keygen: %v\n%s", err, stderr.String())
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := sessionkit.ParseSigningKeyPEM(pem)
	if err != nil {
		t.Fatalf("the key keygen wrote does not parse: %v", err)
	}
	if key.Algorithm() != sessionkit.ES256 || !strings.Contains(stderr.String(), key.KeyID()) {
		t.Errorf("keygen made a %s key; stderr %q should name kid %s", key.Algorithm(), stderr.String(), key.KeyID())
	}
}
