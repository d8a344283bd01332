package runtime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// installSeccomp refuses, in every thread of this process, the system
// calls an isolated script never needs: new processes (fork, vfork,
// clone without CLONE_THREAD; clone3 reports ENOSYS so callers fall
// back to clone), program execution, new sockets (the network comes
// from the parent) and io_uring (which could open sockets past the
// filter). The Go runtime's threads are clone with CLONE_THREAD.
func installSeccomp() error {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K

		eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		allow  = unix.SECCOMP_RET_ALLOW
	)
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
	}
	denied := []uint32{unix.SYS_FORK, unix.SYS_VFORK, unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_SOCKET}
	enosysd := []uint32{unix.SYS_CLONE3, unix.SYS_IO_URING_SETUP}
	prog := []unix.SockFilter{
		stmt(ld, 4), // seccomp_data.arch
		jump(jeq, unix.AUDIT_ARCH_X86_64, 1, 0),
		stmt(ret, eperm),
		stmt(ld, 0),                 // seccomp_data.nr
		jump(jge, 0x40000000, 0, 1), // the x32 ABI
		stmt(ret, eperm),
		jump(jeq, unix.SYS_CLONE, 0, 4),
		stmt(ld, 16), // low half of args[0], the flags
		jump(jset, unix.CLONE_THREAD, 0, 1),
		stmt(ret, allow),
		stmt(ret, eperm),
	}
	for _, nr := range denied {
		prog = append(prog, jump(jeq, nr, 0, 1), stmt(ret, eperm))
	}
	for _, nr := range enosysd {
		prog = append(prog, jump(jeq, nr, 0, 1), stmt(ret, enosys))
	}
	prog = append(prog, stmt(ret, allow))
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return errno
	}
	return nil
}
