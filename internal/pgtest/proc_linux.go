package pgtest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// supported reports whether Start can run a server here.
const supported = true

// procAttr puts a started process in a process group of its own (so that a
// Ctrl-C at the terminal reaches the test, whose cleanups stop the server,
// rather than postgres), has the kernel kill it when the test process dies
// before its cleanups ran (a timeout, a kill), and runs it as cred when
// set.
func procAttr(cred *runAs) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cred != nil {
		a.Credential = &syscall.Credential{Uid: cred.uid, Gid: cred.gid}
	}
	return a
}

// killTree kills the postmaster pid and every process it has forked with
// SIGKILL, and returns the pids of those processes. Killing its process
// group would not do: each child of the postmaster calls setsid and leads
// a group of its own. So the postmaster is stopped first (SIGSTOP), which
// freezes its forking, then its children are listed (from /proc) and
// killed, and then it is.
func killTree(pid int) ([]int, error) {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if st, _, ok := readStat(strconv.Itoa(pid)); !ok || st == "T" || st == "t" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if _, ppid, ok := readStat(name); ok && ppid == pid {
			kid, _ := strconv.Atoi(name)
			kids = append(kids, kid)
			syscall.Kill(kid, syscall.SIGKILL)
		}
	}
	return kids, syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether process pid exists and is not a zombie (the
// reaping of which is up to whoever inherited it).
func alive(pid int) bool {
	st, _, ok := readStat(strconv.Itoa(pid))
	return ok && st != "Z" && st != "X"
}

// readStat returns the state and the parent of process pid, from
// /proc/PID/stat.
func readStat(pid string) (state string, ppid int, ok bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, false // gone
	}
	return parseStat(stat)
}

// parseStat returns the state and the parent of a /proc/PID/stat line.
func parseStat(stat []byte) (state string, ppid int, ok bool) {
	i := bytes.LastIndexByte(stat, ')') // the command name may hold anything
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:])) // state ppid pgrp ...
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, false
	}
	return f[0], ppid, true
}
