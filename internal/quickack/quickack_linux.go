package quickack

import "syscall"

func set(rc syscall.RawConn) func() {
	on := func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1) }
	return func() { _ = rc.Control(on) }
}
