package ws

import (
	"net"
	"syscall"
	"unsafe"
)

// rawState is what the direct writes need, in the Conn. The fields but
// raw and rawWriteFn belong to the owner of the write side.
type rawState struct {
	raw        syscall.RawConn // nil: frames go through the writer's copy.
	rawWriteFn func(fd uintptr) bool
	diov       [2]syscall.Iovec // A direct write's vectors.
	wiov       []syscall.Iovec  // What rawWrite has left to write.
	wblock     bool             // rawWrite waits for the socket.
	wn         int              // Bytes rawWrite wrote.
	werr       error            // rawWrite's error.
	peekFn     func(fd uintptr) bool
	peeked     bool // The reader's: peek found the socket empty once.
}

// initRaw finds the socket under nc for direct writes: none where bytes
// cannot go straight to the socket (TLS).
func (c *Conn) initRaw(nc net.Conn) {
	c.raw = rawConn(nc)
	if c.raw != nil {
		c.rawWriteFn = c.rawWrite
		c.peekFn = c.peek
	}
}

// waitReadable returns once the socket has something to read (or an
// error or end to report), parking in the network poller meanwhile.
func (c *Conn) waitReadable() {
	c.peeked = false
	_ = c.raw.Read(c.peekFn) // An error is the next read's to report.
}

// peek is called by RawConn.Read: true when the socket has data (a
// one-byte MSG_PEEK, which leaves it there), an error or an end to
// report; false, to wait, when it is empty. Called again after the
// wait, it returns true without a system call: a spurious wake-up only
// means that the next read waits.
func (c *Conn) peek(fd uintptr) bool {
	if c.peeked {
		return true
	}
	var b byte
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b)), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.peeked = true
			return false
		}
		return true
	}
}

// iovecs are writev's vectors for one batch, kept with its frame list.
type iovecs struct{ v []syscall.Iovec }

func (v *iovecs) reset() {
	clear(v.v) // Retain no payload.
	v.v = v.v[:0]
	if cap(v.v) > 2*maxPooledFrames {
		v.v = nil
	}
}

// maxIovecs is the most vectors one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

func rawConn(nc net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch t := nc.(type) {
	case *net.TCPConn:
		sc = t
	case *net.UnixConn:
		sc = t
	default:
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

func iov(p []byte) syscall.Iovec {
	v := syscall.Iovec{Base: &p[0]}
	v.SetLen(len(p))
	return v
}

// writeDirect makes one non-blocking attempt to write hdr and data, on
// the caller's goroutine, which owns the write side. It returns how many
// bytes the socket took (maybe none: EAGAIN) and an error only when the
// connection failed.
func (c *Conn) writeDirect(hdr, data []byte) (int, error) {
	c.diov[0] = iov(hdr)
	n := 1
	if len(data) > 0 {
		c.diov[1] = iov(data)
		n = 2
	}
	c.wiov, c.wblock, c.wn, c.werr = c.diov[:n], false, 0, nil
	err := c.raw.Write(c.rawWriteFn)
	wrote, werr := c.wn, c.werr
	c.diov = [2]syscall.Iovec{} // Retain no payload.
	c.wiov, c.werr = nil, nil
	if err == nil {
		err = werr
	}
	return wrote, err
}

// writevDirect makes one non-blocking attempt to write the frames of l
// with writev, on the caller's goroutine, which owns the write side. It
// returns how many bytes the socket took and an error only when the
// connection failed.
func (c *Conn) writevDirect(l *frameList) (int, error) {
	v := l.iov.v[:0]
	for i := range l.f {
		f := &l.f[i]
		v = append(v, iov(f.hdr[:f.hlen]))
		if len(f.data) > 0 {
			v = append(v, iov(f.data))
		}
	}
	l.iov.v = v
	c.wiov, c.wblock, c.wn, c.werr = v, false, 0, nil
	err := c.raw.Write(c.rawWriteFn)
	wrote, werr := c.wn, c.werr
	c.wiov, c.werr = nil, nil
	l.iov.reset()
	if err == nil {
		err = werr
	}
	return wrote, err
}

// writevBlocking writes the frames of l, the first from byte off, with
// writev, waiting in the network poller while the socket is full.
func (c *Conn) writevBlocking(l *frameList, off int) error {
	v := l.iov.v[:0]
	for i := range l.f {
		f := &l.f[i]
		h, d := f.hdr[:f.hlen], f.data
		if off > 0 {
			if off < len(h) {
				h = h[off:]
			} else {
				d = d[off-len(h):]
				h = nil
			}
			off = 0
		}
		if len(h) > 0 {
			v = append(v, iov(h))
		}
		if len(d) > 0 {
			v = append(v, iov(d))
		}
	}
	l.iov.v = v
	c.wiov, c.wblock, c.wn, c.werr = v, true, 0, nil
	err := c.raw.Write(c.rawWriteFn)
	werr := c.werr
	c.wiov, c.werr = nil, nil
	if err == nil {
		err = werr
	}
	return err
}

// rawWrite is called by RawConn.Write with the socket's descriptor: it
// writes c.wiov, consuming what the socket took. Without c.wblock it
// makes one attempt; with it, it returns false on EAGAIN so that Write
// waits for the socket to drain and calls it again.
func (c *Conn) rawWrite(fd uintptr) bool {
	for len(c.wiov) > 0 {
		v := c.wiov
		if len(v) > maxIovecs {
			v = v[:maxIovecs]
		}
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return !c.wblock
		default:
			c.werr = e
			return true
		}
		n := int(r)
		c.wn += n
		c.consume(n)
		if !c.wblock {
			return true
		}
	}
	return true
}

// consume drops n written bytes from the front of c.wiov.
func (c *Conn) consume(n int) {
	v := c.wiov
	for n > 0 && len(v) > 0 {
		l := int(v[0].Len)
		if n < l {
			v[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(v[0].Base), n))
			v[0].SetLen(l - n)
			break
		}
		n -= l
		v[0] = syscall.Iovec{}
		v = v[1:]
	}
	c.wiov = v
}
