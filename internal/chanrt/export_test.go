package chanrt

// SetOnExit makes f run once c has ended, with its reason (after
// Terminate and the connection's ChannelClosed).
func SetOnExit(c *Channel, f func(reason error)) { c.onExit = f }
