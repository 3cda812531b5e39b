package channeltest

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/coder/websocket"

	"github.com/pyrehq/pyre/transport"
)

// Close closes the connection as a client does (close code 1000) and
// waits until the server has answered the close. The server then ends
// every channel of the connection: phoenix.js's socket.disconnect(),
// Phoenix's close/1. Close does not wait for the channels' Terminate,
// which runs after: assert what Terminate does (a broadcast, a presence
// leave) with the usual timeouts, or call the server's Shutdown, which
// waits for every Terminate. Close is idempotent.
func (c *Client) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.readDone
}

// AssertClosed waits for the server to close the connection and fails
// the test unless it was closed with want's code and, if want.Reason is
// not empty, its reason text: [transport.CloseDisconnect] after
// socket.Server.Disconnect, [transport.CloseShutdown] after Shutdown, and
// so on. [transport.CloseSlowConsumer] and [transport.CloseStalled] are
// never sent, the connection being cut: for them, and for
// transport.CloseReason{Code: 1006}, AssertClosed expects a connection
// cut without a close frame (which phoenix.js reports as 1006).
func (c *Client) AssertClosed(want transport.CloseReason) {
	c.t.Helper()
	if want == transport.CloseSlowConsumer || want == transport.CloseStalled {
		want = transport.CloseReason{Code: int(websocket.StatusAbnormalClosure)}
	}
	var err error
	if !c.wait(c.timeout, true, func() bool {
		err = c.readErr
		return err != nil
	}) {
		c.t.Fatalf("channeltest: the connection is still open after %v, want it closed with %s", c.timeout, showClose(want))
		return
	}
	got := closeReason(err)
	if got.Code != want.Code || want.Reason != "" && got.Reason != want.Reason {
		c.t.Fatalf("channeltest: the connection closed with %s, want %s", showClose(got), showClose(want))
	}
}

// errClosedByClient is why reading ended after Client.Close.
var errClosedByClient = errors.New("closed by the test (Client.Close)")

// closeReason is how the connection ended, as the client saw it: the
// close frame's code and reason, or 1006 when there was none.
func closeReason(err error) transport.CloseReason {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return transport.CloseReason{Code: int(ce.Code), Reason: ce.Reason}
	}
	if err == errClosedByClient {
		return transport.CloseReason{Code: int(websocket.StatusNormalClosure)}
	}
	return transport.CloseReason{Code: int(websocket.StatusAbnormalClosure)}
}

func showClose(r transport.CloseReason) string {
	switch {
	case r.Code == int(websocket.StatusAbnormalClosure) && r.Reason == "":
		return "1006 (cut without a close frame)"
	case r.Reason == "":
		return strconv.Itoa(r.Code)
	}
	return fmt.Sprintf("%d %q", r.Code, r.Reason)
}

func describeClose(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return showClose(transport.CloseReason{Code: int(ce.Code), Reason: ce.Reason})
	}
	if err == errClosedByClient {
		return err.Error()
	}
	return fmt.Sprintf("cut without a close frame (%v)", err)
}

// cleanup closes the connection, waits for the reader, ends the test's
// subscriptions and stops the HTTP server.
func (c *Client) cleanup() {
	c.Close()
	c.mu.Lock()
	chans := c.channels
	c.mu.Unlock()
	for _, ch := range chans {
		ch.unsubscribe() // Not under c.mu: Deliver takes it.
	}
	c.ts.Close()
}
