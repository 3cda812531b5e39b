package wstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// ErrSessionGone is why a long-poll client's reading ended when a poll
// was answered with status 410: the server ended the session.
var ErrSessionGone = errors.New("wstest: long-poll session gone (410)")

// errStopped is why reading ended when the client stopped polling.
var errStopped = errors.New("wstest: long-poll client stopped")

// PollResponse is a long-poll JSON answer.
type PollResponse struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

// longPoll is the long-poll side of a Client: a poller goroutine that
// reads every message into the client's inbox, and publishes, one
// ndjson line per frame, each answered once the server handled it.
type longPoll struct {
	http   *http.Client
	url    string // <mount>/longpoll?query&vsn
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex // Protects token.
	token string
}

// LongPollURL is URL for the long-poll transport: base + "/longpoll".
func LongPollURL(base, query, vsn string) string {
	u := URL(base, query, vsn)
	return base + "/longpoll" + u[len(base+"/websocket"):]
}

// DialLongPoll opens a long-poll session at base (the mount's URL, e.g.
// "http://127.0.0.1:1234/socket") with query and vsn, as phoenix.js does:
// a GET answered with status 410 and a token. The Client then polls in the
// background and publishes each frame as one ndjson line (binary frames in
// base64). It fails the test if the session cannot be opened.
func DialLongPoll(tb testing.TB, base, query, vsn string) *Client {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lp := &longPoll{http: &http.Client{Timeout: 30 * time.Second}, url: LongPollURL(base, query, vsn), ctx: ctx, cancel: cancel}
	resp, err := lp.get(ctx)
	if err != nil || resp.Status != 410 || resp.Token == "" {
		cancel()
		tb.Fatalf("wstest: open long-poll session: %+v, %v", resp, err)
	}
	lp.token = resp.Token
	c := newClient(tb, vsn)
	c.lp = lp
	go c.pollLoop()
	tb.Cleanup(c.CloseNow)
	return c
}

// Token is a long-poll client's session token.
func (c *Client) Token() string {
	c.lp.mu.Lock()
	defer c.lp.mu.Unlock()
	return c.lp.token
}

// LongPoll reports whether the client uses the long-poll transport.
func (c *Client) LongPoll() bool { return c.lp != nil }

func (lp *longPoll) stop() { lp.cancel() }

// get sends one GET with the current token as the token query parameter.
func (lp *longPoll) get(ctx context.Context) (PollResponse, error) {
	var out PollResponse
	u := lp.url
	lp.mu.Lock()
	if lp.token != "" {
		u += "&token=" + url.QueryEscape(lp.token)
	}
	lp.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return out, err
	}
	req.Header.Set("Accept", "application/json")
	return out, lp.do(req, &out)
}

func (lp *longPoll) do(req *http.Request, out *PollResponse) error {
	resp, err := lp.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %q", resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// publish POSTs one frame and checks the answer is 200: a V2 frame as one
// ndjson line (binary in base64), as phoenix.js 1.8 does; anything else,
// such as a V1 object, as the whole body with type application/json, as
// phoenix.js 1.6 did.
func (lp *longPoll) publish(data []byte, binary bool) error {
	body, ctype := data, "application/x-ndjson"
	switch {
	case binary:
		body = []byte(base64.StdEncoding.EncodeToString(data))
	case !bytes.HasPrefix(data, []byte("[")):
		ctype = "application/json"
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	lp.mu.Lock()
	u := lp.url + "&token=" + url.QueryEscape(lp.token)
	lp.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	var out PollResponse
	if err := lp.do(req, &out); err != nil {
		return err
	}
	if out.Status != 200 {
		return fmt.Errorf("publish answered with status %d", out.Status)
	}
	return nil
}

// pollLoop polls until the session is gone or the client stops, putting
// every message into the inbox in order.
func (c *Client) pollLoop() {
	defer close(c.done)
	for {
		resp, err := c.lp.get(c.lp.ctx)
		switch {
		case c.lp.ctx.Err() != nil:
			err = errStopped
		case err == nil && resp.Status == 410:
			err = ErrSessionGone
		case err == nil && resp.Status != 200 && resp.Status != 204:
			err = fmt.Errorf("wstest: poll answered with status %d", resp.Status)
		}
		var frames []Frame
		if err == nil {
			c.lp.mu.Lock()
			c.lp.token = resp.Token
			c.lp.mu.Unlock()
			for _, m := range resp.Messages {
				frames = append(frames, Frame{Data: []byte(m)})
			}
		}
		if !c.receive(err, frames...) {
			return
		}
	}
}

// ExpectGone waits up to Timeout for a long-poll client's session to end
// on the server (a poll answered with 410). Frames still in the inbox are
// ignored.
func (c *Client) ExpectGone() {
	c.tb.Helper()
	err := c.Wait(Timeout)
	if !errors.Is(err, ErrSessionGone) {
		c.tb.Fatalf("wstest: long-poll session not gone within %v: %v", Timeout, err)
	}
}
