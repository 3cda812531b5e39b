package ws

import (
	"syscall"
	"time"
)

// SocketOptions reads TCP_USER_TIMEOUT and SO_KEEPALIVE of c's socket.
func SocketOptions(c *Conn) (userTimeout time.Duration, keepAlive bool, err error) {
	sc, ok := c.nc.Conn.(syscall.Conn)
	if !ok {
		return 0, false, syscall.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var ms, ka int
	var serr error
	err = raw.Control(func(fd uintptr) {
		ms, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout)
		if serr == nil {
			ka, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		}
	})
	if err == nil {
		err = serr
	}
	return time.Duration(ms) * time.Millisecond, ka != 0, err
}
