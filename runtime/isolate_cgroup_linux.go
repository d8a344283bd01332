//go:build linux

package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

var cgroupSeq atomic.Int64

// cgroup is a child's own control group: memory and process limits the
// kernel enforces, where this process may create one (cgroup v1 memory
// and pids controllers, or v2). Never required: a run goes on without.
type cgroup struct {
	dirs []string
	v2   bool
}

const cgroupRoot = "/sys/fs/cgroup"

// newCgroup makes the group, or returns nil.
func newCgroup(mem int64) *cgroup {
	name := fmt.Sprintf("mailscript-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	own := ownCgroups()
	cg := &cgroup{}
	limits := map[string]map[string]string{"pids": {"pids.max": "256"}}
	if mem > 0 {
		// the heap's limit, with room for the Go runtime and page cache
		limits["memory"] = map[string]string{"memory.limit_in_bytes": strconv.FormatInt(mem+128<<20, 10)}
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		cg.v2 = true
		limits = map[string]map[string]string{"": {"pids.max": "256"}}
		if mem > 0 {
			limits[""]["memory.max"] = strconv.FormatInt(mem+128<<20, 10)
		}
	}
	for ctrl, files := range limits {
		dir := filepath.Join(cgroupRoot, ctrl, own[ctrl], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			continue
		}
		ok := true
		for f, v := range files {
			if os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644) != nil {
				ok = false
			}
		}
		if !ok {
			os.Remove(dir)
			continue
		}
		cg.dirs = append(cg.dirs, dir)
	}
	if len(cg.dirs) == 0 {
		return nil
	}
	return cg
}

// ownCgroups maps each controller (v1) or "" (v2) to this process's group.
func ownCgroups() map[string]string {
	own := map[string]string{}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return own
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			own[ctrl] = parts[2]
		}
	}
	return own
}

// add moves the process pid into the group.
func (cg *cgroup) add(pid int) error {
	var errs []error
	for _, dir := range cg.dirs {
		errs = append(errs, os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644))
	}
	return errors.Join(errs...)
}

// oomKilled reports whether the kernel killed a process of the group
// for memory.
func (cg *cgroup) oomKilled() bool {
	for _, dir := range cg.dirs {
		for _, f := range []string{"memory.oom_control", "memory.events"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if n, ok := strings.CutPrefix(line, "oom_kill "); ok && strings.TrimSpace(n) != "0" {
					return true
				}
			}
		}
	}
	return false
}

// remove deletes the group; its process has been reaped.
func (cg *cgroup) remove() {
	for _, dir := range cg.dirs {
		os.Remove(dir)
	}
}
