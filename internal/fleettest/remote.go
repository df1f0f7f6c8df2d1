package fleettest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
)

// An instance in another process is driven through a line protocol on its
// standard input and output: a command per line, one answer line each,
// "ok" and a result, or "err" and a message.
//
//	open NANOS         open the instance with its clock at NANOS (Unix ns)
//	at NANOS           set the clock
//	tick               Tick
//	mint               Mint; answers the token
//	verify TOKEN...    Verify
//	ring               Ring; answers its JSON

// Serve runs the child's side: it answers the commands read from r on w
// until r ends, opening its instance with open at the "open" command.
func Serve(r io.Reader, w io.Writer, open func(now time.Time) (Instance, error)) error {
	in := bufio.NewScanner(r)
	in.Buffer(make([]byte, 64<<10), 16<<20) // verify lines carry many tokens
	out := bufio.NewWriter(w)
	var inst Instance
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		res, err := serveOne(&inst, cmd, arg, open)
		if err != nil {
			fmt.Fprintf(out, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Fprintf(out, "ok %s\n", res)
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
	return in.Err()
}

func serveOne(inst *Instance, cmd, arg string, open func(time.Time) (Instance, error)) (string, error) {
	var now time.Time
	if cmd == "open" || cmd == "at" {
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return "", err
		}
		now = time.Unix(0, n)
	}
	if cmd == "open" {
		i, err := open(now)
		if err == nil {
			*inst = i
		}
		return "", err
	}
	if *inst == nil {
		return "", errors.New("not open")
	}
	switch cmd {
	case "at":
		return "", (*inst).At(now)
	case "tick":
		return "", (*inst).Tick()
	case "mint":
		return (*inst).Mint()
	case "verify":
		return "", (*inst).Verify(strings.Fields(arg))
	case "ring":
		r, err := (*inst).Ring()
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(r)
		return string(b), err
	}
	return "", fmt.Errorf("unknown command %q", cmd)
}

// Remote is an Instance in another process that runs Serve.
type Remote struct {
	mu sync.Mutex
	w  io.Writer
	r  *bufio.Reader
}

// OpenRemote opens the instance served on the other ends of w (its
// standard input) and r (its standard output), with its clock at now.
func OpenRemote(w io.Writer, r io.Reader, now time.Time) (*Remote, error) {
	rm := &Remote{w: w, r: bufio.NewReaderSize(r, 64<<10)}
	_, err := rm.call("open " + strconv.FormatInt(now.UnixNano(), 10))
	return rm, err
}

// call sends one command and reads its answer.
func (rm *Remote) call(line string) (string, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if _, err := io.WriteString(rm.w, line+"\n"); err != nil {
		return "", fmt.Errorf("remote instance: %w", err)
	}
	ans, err := rm.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("remote instance: no answer: %w", err)
	}
	status, res, _ := strings.Cut(strings.TrimSuffix(ans, "\n"), " ")
	if status != "ok" {
		return "", fmt.Errorf("remote instance: %s", res)
	}
	return res, nil
}

// At sets the remote instance's clock.
func (rm *Remote) At(now time.Time) error {
	_, err := rm.call("at " + strconv.FormatInt(now.UnixNano(), 10))
	return err
}

// Tick runs one round of its managed keys.
func (rm *Remote) Tick() error { _, err := rm.call("tick"); return err }

// Mint logs a new subject in there.
func (rm *Remote) Mint() (string, error) { return rm.call("mint") }

// Verify checks tokens there.
func (rm *Remote) Verify(tokens []string) error {
	_, err := rm.call("verify " + strings.Join(tokens, " "))
	return err
}

// Ring describes its key ring.
func (rm *Remote) Ring() (sessionkit.KeyRingInfo, error) {
	res, err := rm.call("ring")
	if err != nil {
		return sessionkit.KeyRingInfo{}, err
	}
	var r sessionkit.KeyRingInfo
	err = json.Unmarshal([]byte(res), &r)
	return r, err
}
