package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// How long Start and Restart wait for the server to accept connections
// (crash recovery included), and how long a stop or a kill waits for the
// processes to end.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a private PostgreSQL cluster of one test, in a temporary
// directory of its own, listening on 127.0.0.1 on a free port, with a
// superuser "sessionkit" that logs in without a password. It runs with
// fsync on and the default synchronous_commit, so a transaction that
// committed survives [Server.Kill]. Make one with [Start].
type Server struct {
	t    testing.TB
	bin  string // the directory holding initdb and postgres
	dir  string // the temporary directory: data/, the Unix socket, log
	port int
	// cred, when set, is the unprivileged user the processes run as (the
	// tests run as root, which initdb and postgres refuse).
	cred *runAs

	mu   sync.Mutex
	proc *proc // the running postmaster; nil once killed or stopped
}

// proc is a started postmaster.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait has returned
}

// Start makes a new cluster (initdb) in a temporary directory, starts its
// server and waits until it accepts connections. When the test ends the
// server is shut down (SIGINT, PostgreSQL's fast shutdown, then as by
// [Server.Kill] after 10 seconds) and the directory removed.
//
// It finds initdb and postgres next to each other in PATH or else in the
// newest /usr/lib/postgresql/*/bin; without them the test skips, or fails
// under CI=true. Run as root, it runs them as the user nobody. The test
// skips on systems other than Linux.
func Start(t testing.TB) *Server {
	t.Helper()
	if !supported {
		t.Skipf("pgtest: a private PostgreSQL server needs Linux (this is %s)", runtime.GOOS)
	}
	bin, err := findBinaries()
	if err != nil {
		skipOrFail(t, "pgtest: %v: install PostgreSQL (on Debian: apt-get install postgresql) to run this test", err)
	}
	s := &Server{t: t, bin: bin}
	if os.Geteuid() == 0 {
		s.cred, err = unprivileged()
		if err != nil {
			t.Fatalf("pgtest: running as root, which initdb and postgres refuse: %v", err)
		}
	}
	s.dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.uid), int(s.cred.gid)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}

	// --no-sync only spares initdb the flushing of the new cluster to disk;
	// the server below runs with fsync on.
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(),
		"-U", "sessionkit", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = s.dir
	initdb.SysProcAttr = procAttr(s.cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	t.Cleanup(s.cleanup)

	// A port found free may be taken before postgres binds it: then try
	// another.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		from := s.logSize()
		p, err := s.launch(port)
		if err == nil {
			s.port, s.proc = port, p
			return s
		}
		if attempt < 5 && strings.Contains(s.logSince(from), "could not bind") {
			continue
		}
		t.Fatalf("pgtest: starting postgres: %v\nserver log:\n%s", err, s.logTail())
	}
}

// URL returns the server's connection URL:
// postgres://sessionkit@127.0.0.1:PORT/postgres?sslmode=disable.
func (s *Server) URL() string {
	return "postgres://sessionkit@127.0.0.1:" + strconv.Itoa(s.port) + "/postgres?sslmode=disable"
}

// Kill kills the server with SIGKILL, as a crash would: the postmaster and
// every process it has forked (backends, checkpointer, WAL writer), without
// a shutdown checkpoint.
// It returns once they have all exited and the port refuses connections.
// Killing a server that is not running does nothing. Kill may be called
// from any goroutine; it reports failures with the test's Errorf.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	if err := s.killLocked(); err != nil {
		s.t.Errorf("pgtest: Kill: %v", err)
	}
}

// Restart starts the server again, on the same port and data directory,
// and waits until it accepts connections: after [Server.Kill] that includes
// PostgreSQL's crash recovery, which replays the write-ahead log. A server
// still running is shut down first (fast shutdown).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.stopLocked(); err != nil {
			t.Fatalf("pgtest: Restart: stopping the running server: %v", err)
		}
	}
	p, err := s.launch(s.port)
	if err != nil {
		t.Fatalf("pgtest: Restart: %v\nserver log:\n%s", err, s.logTail())
	}
	s.proc = p
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "log") }

// launch starts postgres on port and waits until it accepts connections.
// It leaves nothing running when it fails.
func (s *Server) launch(port int) (*proc, error) {
	log, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", s.dir, "-c", "fsync=on")
	cmd.Dir = s.dir
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = procAttr(s.cred)
	err = cmd.Start()
	log.Close() // the child has its own descriptor
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	// Through the Unix socket in the server's own directory: a server found
	// on 127.0.0.1:port might be another one, which took the port first. As
	// postgres creates its Unix socket after its TCP one, and exits if it
	// cannot, an answer here means the TCP port is ours too.
	url := "postgres://sessionkit@/postgres?host=" + neturl.QueryEscape(s.dir) +
		"&port=" + strconv.Itoa(port) + "&sslmode=disable&connect_timeout=2"
	deadline := time.Now().Add(readyTimeout)
	var last error
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("postgres exited: %v", cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return p, nil
		}
		cancel()
		last = err
		if time.Now().After(deadline) {
			kill(p, port)
			return nil, fmt.Errorf("postgres did not accept connections within %v: %v", readyTimeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killLocked kills the running server and waits for its processes.
func (s *Server) killLocked() error {
	p := s.proc
	s.proc = nil
	return kill(p, s.port)
}

// kill kills the postmaster p and its children (killTree), and waits until
// they have all exited and port refuses connections: a backend outliving
// the postmaster for a moment could still answer its client, and a restart
// would refuse to start while one is attached to the old shared memory.
func kill(p *proc, port int) error {
	kids, err := killTree(p.cmd.Process.Pid)
	<-p.done
	deadline := time.Now().Add(stopTimeout)
	for slices.ContainsFunc(kids, alive) || portOpen(port) {
		if time.Now().After(deadline) {
			return errors.Join(err, fmt.Errorf("processes of the killed postmaster, or port %d, still alive %v later", port, stopTimeout))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// stopLocked shuts the running server down (fast shutdown: sessions are
// ended, a checkpoint written), killing it after stopTimeout.
func (s *Server) stopLocked() error {
	p := s.proc
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		return s.killLocked()
	}
	select {
	case <-p.done: // the postmaster exits after all its children have
		s.proc = nil
		return nil
	case <-time.After(stopTimeout):
		err := s.killLocked()
		return errors.Join(fmt.Errorf("postgres did not stop within %v of SIGINT: killed it", stopTimeout), err)
	}
}

// cleanup stops the server at the end of the test and, if the test failed,
// logs the server's log.
func (s *Server) cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.stopLocked(); err != nil {
			s.t.Errorf("pgtest: %v", err)
		}
	}
	if s.t.Failed() {
		s.t.Logf("pgtest: server log (%s):\n%s", s.dir, s.logTail())
	}
}

// logSize returns the log's current size.
func (s *Server) logSize() int64 {
	fi, err := os.Stat(s.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns the log from offset on.
func (s *Server) logSince(offset int64) string {
	f, err := os.Open(s.logPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// logTail returns the last 16 KiB of the log.
func (s *Server) logTail() string {
	const max = 16 << 10
	from := s.logSize() - max
	if from < 0 {
		from = 0
	}
	return s.logSince(from)
}

// findBinaries returns the directory holding both initdb and postgres:
// where the postgres found in PATH lives (symbolic links resolved), or else
// the newest /usr/lib/postgresql/VERSION/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); isFile(filepath.Join(dir, "initdb")) {
				return dir, nil
			}
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	type cand struct {
		dir     string
		version []int
	}
	var cands []cand
	for _, m := range matches {
		dir := filepath.Dir(m)
		if !isFile(filepath.Join(dir, "initdb")) {
			continue
		}
		var v []int
		for f := range strings.SplitSeq(filepath.Base(filepath.Dir(dir)), ".") {
			n, err := strconv.Atoi(f)
			if err != nil {
				v = nil
				break
			}
			v = append(v, n)
		}
		if v != nil {
			cands = append(cands, cand{dir, v})
		}
	}
	if len(cands) == 0 {
		return "", errors.New("initdb and postgres not found in PATH or /usr/lib/postgresql/*/bin")
	}
	newest := slices.MaxFunc(cands, func(a, b cand) int { return slices.Compare(a.version, b.version) })
	return newest.dir, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// runAs is a user and group to run the server's processes as.
type runAs struct{ uid, gid uint32 }

// unprivileged returns the user nobody.
func unprivileged() (*runAs, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user nobody: uid %q: %v", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user nobody: gid %q: %v", u.Gid, err)
	}
	return &runAs{uid: uint32(uid), gid: uint32(gid)}, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portOpen reports whether something accepts connections on port.
func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
