// Package procfs reads what the load tool (internal/loadgen) reports about
// a server process and the machine from Linux's /proc: a process's
// resident memory and CPU time, the machine's busy CPU time, the process
// listening on a TCP port, the open-file limit, and the state of TCP
// sockets. Each reader has a parse function of its own, so that the
// parsing is tested on fixed text.
//
// CPU times are in clock ticks of 1/100 s (USER_HZ on Linux), so a
// difference of two readings is good to about ±0.01 s per reading.
package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ticksPerSecond is USER_HZ, the unit of the CPU times in /proc.
const ticksPerSecond = 100

// Sample is one reading of a process.
type Sample struct {
	RSSKiB  int64   // VmRSS of /proc/PID/status
	CPUSec  float64 // utime + stime of /proc/PID/stat, every thread
	Threads int64
}

// Read reads the process pid.
func Read(pid int) (Sample, error) {
	var s Sample
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPUSec, err = ParseStatCPU(st); err != nil {
		return s, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	if s.RSSKiB, err = StatusField(status, "VmRSS"); err != nil {
		return s, err
	}
	s.Threads, _ = StatusField(status, "Threads")
	return s, nil
}

// ParseStatCPU returns utime + stime, in seconds, from the text of
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces and parentheses itself, so the fields are counted from the last
// ')': state is the first after it, utime the 12th, stime the 13th.
func ParseStatCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("procfs: stat without a command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("procfs: stat too short")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procfs: stat utime %q stime %q", f[11], f[12])
	}
	return float64(utime+stime) / ticksPerSecond, nil
}

// StatusField returns the number of the line "Key: N ..." of
// /proc/PID/status (kB for the memory lines).
func StatusField(status []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("procfs: no %s in status", key)
}

// MachineBusy returns the busy time of every CPU of the machine, in
// seconds: the first line of /proc/stat without idle and iowait.
func MachineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return ParseMachineBusy(b)
}

// ParseMachineBusy reads the "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal guest guest_nice. Guest time is already
// counted in user and nice, so it is left out, with idle and iowait.
func ParseMachineBusy(stat []byte) (float64, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("procfs: no cpu line in /proc/stat")
	}
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procfs: /proc/stat: %w", err)
		}
		busy += n
	}
	return float64(busy) / ticksPerSecond, nil
}

// OpenFileLimit returns the soft "Max open files" limit of a process.
func OpenFileLimit(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("procfs: no open-file limit")
}

// Listener returns the pid of the process, other than this one, that
// holds the socket listening on TCP port (IPv4 or IPv6); 0 when none is
// found. It reads /proc/net/tcp{,6} for the socket's inode, then every
// /proc/PID/fd for a link to it, so it finds only processes this user
// may inspect.
func Listener(port int) int {
	inodes := map[string]bool{}
	for _, s := range Sockets(port) {
		if s.State == StateListen && s.LocalPort == port {
			inodes["socket:["+s.Inode+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == self {
			continue
		}
		fds, _ := os.ReadDir(p + "/fd")
		for _, fd := range fds {
			if l, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && inodes[l] {
				return pid
			}
		}
	}
	return 0
}
