package ws

import (
	"net"
	"syscall"
	"time"
)

// tcpUserTimeout is TCP_USER_TIMEOUT (linux/tcp.h), which the syscall
// package does not name.
const tcpUserTimeout = 0x12

// setUserTimeout sets TCP_USER_TIMEOUT to d on nc's socket: the kernel
// then resets the connection (ETIMEDOUT) when sent data stays
// unacknowledged, or queued data cannot be sent through a zero receive
// window, for d. It reports whether nc is a TCP socket that took it.
func setUserTimeout(nc net.Conn, d time.Duration) bool {
	if t, ok := nc.(interface{ NetConn() net.Conn }); ok { // crypto/tls
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(d.Milliseconds()))
	})
	return err == nil && serr == nil
}
