package boltstore

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkit/sessionkit/store"
	"github.com/sessionkit/sessionkit/store/storetest"
)

// The tests in this file re-execute the test binary as a child process that
// opens a store: childEnv selects what the child does, childPathEnv names
// the file. TestMain runs the child's part instead of the tests.
const (
	childEnv     = "BOLTSTORE_TEST_CHILD"
	childPathEnv = "BOLTSTORE_TEST_PATH"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		code := m.Run()
		closeFixtures()
		os.Exit(code)
	case "crash":
		crashChild(os.Getenv(childPathEnv))
	case "hold":
		holdChild(os.Getenv(childPathEnv))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
}

// child starts the test binary as a child doing what, on path.
func child(t *testing.T, what, path string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	dieWithTest(cmd)
	cmd.Env = append(os.Environ(), childEnv+"="+what, childPathEnv+"="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func childFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(3)
}

// holdChild opens the store, says "ready" and holds the file until its
// stdin closes.
func holdChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		childFail("open: %v", err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		childFail("close: %v", err)
	}
	os.Exit(0)
}

// TestLockedByAnotherProcess: while another process holds the file, Open
// gives up after its LockTimeout with a clear error; once the other process
// has let go, Open succeeds.
func TestLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	cmd := child(t, "hold", path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q, %v", line, err)
	}

	for _, tt := range []struct {
		name string
		wait time.Duration
		msg  string
	}{
		{"bounded wait", 200 * time.Millisecond, path + " is locked by another process (waited 200ms)"},
		{"no wait", -1, path + " is locked by another process"},
	} {
		s, err := Open(path, Options{LockTimeout: tt.wait})
		if err == nil {
			s.Close()
			t.Fatalf("%s: Open succeeded while another process holds the file", tt.name)
		}
		if !errors.Is(err, ErrLocked) || !errors.Is(err, berrors.ErrTimeout) {
			t.Errorf("%s: Open error %v does not wrap ErrLocked and bbolt's timeout", tt.name, err)
		}
		if got := err.Error(); got != "boltstore: "+tt.msg {
			t.Errorf("%s: Open error %q, want %q", tt.name, got, "boltstore: "+tt.msg)
		}
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	s, err := Open(path, Options{LockTimeout: -1})
	if err != nil {
		t.Fatalf("Open after the other process let go: %v", err)
	}
	s.Close()
}

// The crash test's child writes one line per acknowledged step to stdout,
// with a single write(2) each, after the store method returned:
//
//	created <subject> <id> <handle> <secret hex>
//	rotated <id> <handle> <secret hex>
//	revoking <id>                    (before the call)
//	revoked <id>
//	revokedall <subject> <version>
//
// A line of fewer than PIPE_BUF bytes reaches the pipe whole or not at all,
// and what is in the pipe survives the child's death.
const (
	crashWorkers  = 8
	crashRotation = 5 // rotations per session before it is revoked
)

// crashNow is the time every step of the crash test happens at.
var crashNow = t0

func crashChild(path string) {
	s, err := Open(path, Options{})
	if err != nil {
		childFail("open: %v", err)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(4)
		}
	}
	for w := range crashWorkers {
		go crashWorker(s, w, ack)
	}
	select {} // until killed
}

func crashWorker(s *Store, w int, ack func(string, ...any)) {
	ctx := context.Background()
	subject := fmt.Sprintf("crash-user-%d", w)
	// The keeper is rotated once a cycle and never revoked, so that every
	// round leaves live sessions to check.
	keeper := crashCreate(ctx, s, subject+"-keeper", ack)
	for round := 0; ; round++ {
		c := crashCreate(ctx, s, subject, ack)
		for range crashRotation {
			c.rotate(ctx, s, ack)
		}
		keeper.rotate(ctx, s, ack)
		// Announced first: killed after the revocation committed but
		// before it was acknowledged, the session may be revoked or not.
		ack("revoking %s", c.id)
		switch round % 3 {
		case 0:
			if _, err := s.Revoke(ctx, c.handle, sha(c.secret), crashNow); err != nil {
				childFail("revoke: %v", err)
			}
			ack("revoked %s", c.id)
		case 1:
			if err := s.RevokeSession(ctx, subject, c.id, crashNow); err != nil {
				childFail("revoke session: %v", err)
			}
			ack("revoked %s", c.id)
		case 2:
			v, err := s.RevokeAll(ctx, subject, crashNow)
			if err != nil {
				childFail("revoke all: %v", err)
			}
			ack("revokedall %s %d", subject, v)
		}
	}
}

// crashChain is a session in the child: its id and current token.
type crashChain struct {
	id, handle string
	secret     [32]byte
}

func crashCreate(ctx context.Context, s *Store, subject string, ack func(string, ...any)) *crashChain {
	c := &crashChain{id: randomToken(16), secret: randomSecret()}
	n := newSession(c.id, subject, crashNow)
	n.Hash = sha(c.secret)
	created, err := s.Create(ctx, n)
	if err != nil {
		childFail("create: %v", err)
	}
	c.handle = created.Handle
	ack("created %s %s %s %x", subject, c.id, c.handle, c.secret)
	return c
}

func (c *crashChain) rotate(ctx context.Context, s *Store, ack func(string, ...any)) {
	next := randomSecret()
	res, err := s.Rotate(ctx, store.Rotation{
		Handle: c.handle, Presented: sha(c.secret), Next: sha(next), Sealed: []byte("sealed"),
		Now: crashNow, IdleExpiresAt: crashNow.Add(time.Hour),
	})
	if err != nil || res.Outcome != store.Rotated {
		childFail("rotate: %v, %v", res.Outcome, err)
	}
	c.handle, c.secret = res.Handle, next
	ack("rotated %s %s %x", c.id, c.handle, c.secret)
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomSecret() (s [32]byte) {
	rand.Read(s[:])
	return s
}

func sha(secret [32]byte) [32]byte { return sum(string(secret[:])) }

// acked is what the parent knows of one session from the child's lines.
type acked struct {
	subject, handle string
	secret          [32]byte
	gen             uint64
	revoking        bool // a revocation was announced: it may have committed
	revoked         bool // a revocation was acknowledged
}

// crashLog is every acknowledged step so far, over all rounds.
type crashLog struct {
	sessions map[string]*acked
	versions map[string]uint64
	rotated  int // rotated lines of the current round
}

func (l *crashLog) apply(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	bad := func() { t.Fatalf("child wrote an unexpected line %q", line) }
	secret := func(s string) (out [32]byte) {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			bad()
		}
		copy(out[:], b)
		return out
	}
	switch {
	case len(f) == 5 && f[0] == "created":
		l.sessions[f[2]] = &acked{subject: f[1], handle: f[3], secret: secret(f[4]), gen: 1}
	case len(f) == 4 && f[0] == "rotated":
		a := l.sessions[f[1]]
		if a == nil {
			bad()
		}
		a.handle, a.secret = f[2], secret(f[3])
		a.gen++
		l.rotated++
	case len(f) == 2 && f[0] == "revoking":
		a := l.sessions[f[1]]
		if a == nil {
			bad()
		}
		a.revoking = true
	case len(f) == 2 && f[0] == "revoked":
		a := l.sessions[f[1]]
		if a == nil {
			bad()
		}
		a.revoked = true
	case len(f) == 3 && f[0] == "revokedall":
		v, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			bad()
		}
		l.versions[f[1]] = max(l.versions[f[1]], v)
		for _, a := range l.sessions {
			if a.subject == f[1] {
				a.revoked = true
			}
		}
	default:
		bad()
	}
}

// TestCrashRecovery kills a child process with SIGKILL while it rotates,
// revokes and creates sessions from several goroutines, then checks the
// file: bbolt's consistency check passes, every acknowledged rotation is
// there (the session is at that generation or one more, and the
// acknowledged token still proves it), every acknowledged revocation holds,
// and versions are at least as acknowledged. Three rounds, on the same
// file, each starting from the previous crash.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test: child processes killed mid-write; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	log := &crashLog{sessions: map[string]*acked{}, versions: map[string]uint64{}}
	// With killAfter rotations acknowledged, some worker has acknowledged at
	// least killAfter/crashWorkers of them, so it went through at least
	// three cycles (crashRotation+1 rotations and a revocation each): every
	// kind of revocation happened before the kill.
	const rounds, killAfter = 3, 200
	for round := range rounds {
		crashRound(t, path, log, killAfter)
		checkConsistent(t, path)
		checkAcked(t, path, log, round)
	}
}

// crashRound runs the child until it has acknowledged killAfter rotations,
// kills it, and reads every line it wrote before dying.
func crashRound(t *testing.T, path string, log *crashLog, killAfter int) {
	t.Helper()
	cmd := child(t, "crash", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log.rotated = 0
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		log.apply(t, sc.Text())
		if !killed && log.rotated >= killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped before acknowledging %d rotations: %v", killAfter, err)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("the child did not die of the signal: %v", err)
	}
}

// checkConsistent runs bbolt's consistency check over the file.
func checkConsistent(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("reopening after the crash: %v", err)
	}
	defer db.Close()
	if err := db.View(func(tx *bbolt.Tx) error {
		var errs []string
		for err := range tx.Check() {
			errs = append(errs, err.Error())
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt consistency check after the crash: %v", err)
	}
}

// checkAcked checks every acknowledged step against the store.
func checkAcked(t *testing.T, path string, log *crashLog, round int) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	defer s.Close()
	revoked, live := 0, 0
	for id, a := range log.sessions {
		st, err := s.CheckAccess(ctx, store.AccessCheck{Subject: a.subject, SessionID: id, JTI: "j", Now: crashNow})
		if err != nil {
			t.Fatal(err)
		}
		if a.revoking && !a.revoked && !st.SessionLive {
			// The announced revocation committed before the kill: it
			// must hold like an acknowledged one.
			a.revoked = true
		}
		if a.revoked {
			revoked++
			if _, err := s.Lookup(ctx, a.handle, sha(a.secret), crashNow); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d: acknowledged revocation of %s lost: Lookup got %v", round, id, err)
			}
			if st.SessionLive {
				t.Errorf("round %d: acknowledged revocation of %s lost: CheckAccess reports it live", round, id)
			}
			r := store.Rotation{Handle: a.handle, Presented: sha(a.secret), Next: sha(randomSecret()), Sealed: []byte("s"), Now: crashNow, IdleExpiresAt: crashNow.Add(time.Hour)}
			if res, err := s.Rotate(ctx, r); err != nil || (res.Outcome != store.Revoked && res.Outcome != store.Reused) {
				t.Errorf("round %d: acknowledged revocation of %s lost: Rotate got %v, %v", round, id, res.Outcome, err)
			}
			continue
		}
		live++
		got, err := storetest.FindSession(ctx, s, a.subject, id, crashNow)
		if err != nil {
			t.Errorf("round %d: acknowledged session %s (generation %d) lost: %v", round, id, a.gen, err)
			continue
		}
		if got.Generation != a.gen && got.Generation != a.gen+1 {
			t.Errorf("round %d: session %s is at generation %d, acknowledged %d (one more may have committed unacknowledged)", round, id, got.Generation, a.gen)
		}
		if _, err := s.Lookup(ctx, a.handle, sha(a.secret), crashNow); err != nil {
			t.Errorf("round %d: the acknowledged token of %s no longer proves it: %v", round, id, err)
		}
		if !st.SessionLive {
			t.Errorf("round %d: acknowledged session %s is not live for CheckAccess", round, id)
		}
	}
	for subject, v := range log.versions {
		if got, err := s.Version(ctx, subject); err != nil || got < v {
			t.Errorf("round %d: %s's version is %d, acknowledged %d (%v)", round, subject, got, v, err)
		}
	}
	if revoked == 0 || live == 0 {
		t.Errorf("round %d: %d revoked and %d live sessions acknowledged; the test needs both", round, revoked, live)
	}
}
