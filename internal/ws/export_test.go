package ws

// KernelStall reports whether the kernel measures c's stalls
// (TCP_USER_TIMEOUT was set).
func KernelStall(c *Conn) bool { return c.nc.stall == 0 && c.opts.StallTimeout > 0 }
