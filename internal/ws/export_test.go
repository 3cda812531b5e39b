package ws

// KernelStall reports whether the kernel measures c's stalls
// (TCP_USER_TIMEOUT was set).
func KernelStall(c *Conn) bool { return c.nc.stall == 0 && c.opts.StallTimeout > 0 }

// NoDirect makes every frame go through the writer, which copies a batch
// into one buffer and writes it as on systems without direct writes.
func NoDirect(o *Options) { o.noDirect = true }

// Direct reports whether Send writes from its caller's goroutine.
func Direct(c *Conn) bool { return c.direct }

// Queued reports how many frames wait for the writer, and how many bytes
// of the first are written already.
func Queued(c *Conn) (frames, off int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q == nil {
		return 0, 0
	}
	return len(c.q.f), c.qOff
}

// Writing reports whether a goroutine owns the write side: a sender in
// its direct write, the writer, or coder/websocket.
func Writing(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy
}
