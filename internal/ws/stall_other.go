//go:build !linux

package ws

import (
	"net"
	"time"
)

// setUserTimeout reports false: only Linux has TCP_USER_TIMEOUT here, so
// a stall is found by write deadlines instead.
func setUserTimeout(net.Conn, time.Duration) bool { return false }
