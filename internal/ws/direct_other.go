//go:build !linux

package ws

import (
	"errors"
	"net"
	"syscall"
)

// rawState is empty: no direct writes.
type rawState struct{ raw syscall.RawConn }

func (c *Conn) initRaw(net.Conn) {}

func (c *Conn) waitReadable() {}

// iovecs is empty where frames are not written with writev.
type iovecs struct{}

func (*iovecs) reset() {}

var errNoDirect = errors.New("ws: no direct writes on this system")

func (c *Conn) writeDirect(hdr, data []byte) (int, error) { return 0, errNoDirect }

func (c *Conn) writevBlocking(l *frameList, off int) error { return errNoDirect }

func (c *Conn) writevDirect(l *frameList) (int, error) { return 0, errNoDirect }
