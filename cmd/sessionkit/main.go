// Command sessionkit makes signing keys, inspects and verifies access
// tokens, and ends a user's sessions in the store an application runs
// sessionkit on.
//
// Install it with
//
//	go install github.com/sessionkit/sessionkit/cmd/sessionkit@latest
//
// The subcommands:
//
//	sessionkit keygen [-alg RS256|ES256|EdDSA] [-o FILE [-force]]
//	sessionkit jwks FILE...
//	sessionkit inspect [TOKEN]
//	sessionkit verify -issuer URL [-jwks URL] -aud AUD [-typ T]... [-alg A]... [TOKEN]
//	sessionkit sessions list|revoke SUBJECT [SID] -store URL -issuer ISS [-json]
//	sessionkit logout-all SUBJECT -store URL -issuer ISS
//	sessionkit keys list|rotate|retire [KID] -store URL -kek-file FILE -issuer ISS
//
// Every subcommand explains itself with -h. Tokens are read from the
// command line or, when absent or "-", from standard input (which keeps
// them out of the shell's history). The exit status is 0 on success, 1 on
// failure (the reason goes to standard error) and 2 for a usage error.
//
// The store URL of sessions, logout-all and keys is one of
//
//	redis://[user:password@]host:port[/db][?options]    a Redis server
//	rediss://...                                        the same over TLS
//	redis+cluster://[user:password@]host:port,host:port[?options]
//	rediss+cluster://...                                a Redis Cluster (over TLS)
//	bolt:PATH                                           a bbolt file
//
// The options of the Redis forms are go-redis's URL options (dial_timeout,
// read_timeout, ...). A bbolt file is locked by the process that has it
// open: while the application runs, the command waits -lock-timeout and
// then fails saying so.
//
// Nothing secret is printed unless asked for: keygen writes the private key
// only to standard output or the -o file, inspect never shows a refresh
// token's secret, and no error message contains token material or a
// store URL's password.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 on success, 1 on failure, 2 for a usage error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return c.run(args)
}

// cli is one run of the command: its streams and its clock.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// now is the clock inspect and the session listing show relative
	// times against (tests fix it).
	now func() time.Time
}

// command is one subcommand.
type command struct {
	name     string
	synopsis string // the usage line, without "usage: "
	summary  string // one line for the top-level usage
	about    string // what -h says between the usage line and the flags
	example  string // what -h shows last, one command a line
	run      func(c *cli, cmd *command, args []string) error
}

// commands is every subcommand, in the order the top-level usage lists
// them. A subcommand is one entry here and one file.
var commands = []*command{
	keygenCommand,
	jwksCommand,
	inspectCommand,
	verifyCommand,
	sessionsCommand,
	logoutAllCommand,
	keysCommand,
}

// lookup returns the subcommand called name, or nil.
func lookup(name string) *command {
	for _, cmd := range commands {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

// run dispatches args to their subcommand.
func (c *cli) run(args []string) int {
	if len(args) == 0 {
		c.topUsage(c.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			if cmd := lookup(args[1]); cmd != nil {
				c.usage(c.stdout, cmd, nil)
				return 0
			}
			fmt.Fprintf(c.stderr, "sessionkit help: unknown command %q\n", shorten(args[1]))
			return 2
		}
		c.topUsage(c.stdout)
		return 0
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "sessionkit: unknown command %q\n\n", shorten(args[0]))
		c.topUsage(c.stderr)
		return 2
	}
	return c.exit(cmd, cmd.run(c, cmd, args[1:]))
}

// exit reports err of cmd on stderr and returns the exit status it means.
func (c *cli) exit(cmd *command, err error) int {
	var (
		ue   *usageError
		code exitCode
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "sessionkit %s: %s\nusage: %s\nRun 'sessionkit %s -h' for details.\n", cmd.name, ue.msg, cmd.synopsis, cmd.name)
		return 2
	case errors.As(err, &code):
		return int(code)
	default:
		fmt.Fprintf(c.stderr, "sessionkit %s: %v\n", cmd.name, err)
		return 1
	}
}

// topUsage writes the list of subcommands.
func (c *cli) topUsage(w io.Writer) {
	fmt.Fprintln(w, "sessionkit makes signing keys, inspects and verifies access tokens, and")
	fmt.Fprintln(w, "ends a user's sessions in an application's sessionkit store.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: sessionkit COMMAND [flags] [arguments]")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cmd := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'sessionkit COMMAND -h' for a command's flags and an example.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 failure, 2 usage error.")
}

// usage writes cmd's help: the usage line, what it does, its flags (when
// fs has any) and an example.
func (c *cli) usage(w io.Writer, cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", cmd.synopsis, strings.TrimSpace(cmd.about))
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	fmt.Fprintf(w, "\nexample:\n")
	for line := range strings.SplitSeq(strings.TrimSpace(cmd.example), "\n") {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(line))
	}
}

// usageError is a command line the command cannot run: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode ends the command with this status, printing nothing more: the
// command has said what there was to say.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// flags returns the flag set of cmd. It prints nothing itself: parse
// reports its errors and -h.
func (c *cli) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet("sessionkit "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args with fs, flags and arguments in any order (a flag may
// follow the arguments, as in "sessions list alice -store ..."); after
// "--" everything is an argument. It returns the arguments. With -h it
// writes cmd's help to stdout and returns flag.ErrHelp; a bad flag is a
// usageError.
func (c *cli) parse(cmd *command, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.usage(c.stdout, cmd, fs)
				return nil, flag.ErrHelp
			}
			msg := err.Error()
			if strings.HasPrefix(msg, "flag provided but not defined") {
				// Session ids are base64url: one in 64 starts with "-".
				msg += ` (an argument starting with "-", such as a session id, goes after "--")`
			}
			return nil, &usageError{msg: msg}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" && !takesValue(fs, args, used-1) {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// takesValue reports whether args[i] is the value of the flag before it
// (as in "-issuer --"), not the end of the flags.
func takesValue(fs *flag.FlagSet, args []string, i int) bool {
	if i == 0 {
		return false
	}
	name, ok := strings.CutPrefix(args[i-1], "-")
	if !ok || strings.Contains(name, "=") {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}

// shorten bounds a string taken from the command line before it goes into
// a message.
func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
