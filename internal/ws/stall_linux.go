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
//
// It also turns TCP keepalive off on that socket (net/http's listener
// turns it on, probing every 15 s). Linux lets TCP_USER_TIMEOUT override
// keepalive's count of probes: one probe left unanswered for d, a single
// lost packet, resets a healthy idle connection. Measured: 6,000 idle
// phoenix.js-like clients heartbeating every 30 s on a busy machine lost
// 5-17 % of their connections in 75 s with keepalive on, none with it
// off. Dead peers are found by the idle timeout (the heartbeat) instead.
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
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 0)
		}
	})
	return err == nil && serr == nil
}
