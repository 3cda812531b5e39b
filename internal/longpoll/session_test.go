package longpoll_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyrehq/pyre/internal/longpoll"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/transport"
)

// newLongPoll returns a session whose handler records what it gets and
// whose close reason arrives on the returned channel.
func newLongPoll(t *testing.T, opts *longpoll.Options, h longpoll.Handler) (*longpoll.Session, <-chan transport.CloseReason) {
	t.Helper()
	closed := make(chan transport.CloseReason, 1)
	if opts == nil {
		opts = &longpoll.Options{}
	}
	opts.Logger = discard
	opts.Group = group(t)
	if h == nil {
		h = func([]byte, bool) *transport.CloseReason { return nil }
	}
	done := make(chan struct{}) // onClose has run.
	p := longpoll.New(opts, h, func(r transport.CloseReason) {
		closed <- r
		close(done)
	})
	t.Cleanup(func() {
		p.Close(transport.CloseNormal)
		<-done
	})
	return p, closed
}

func lpText(s string) protocol.Frame { return protocol.Frame{Data: []byte(s)} }

func TestLongPollBuffersUntilPolled(t *testing.T) {
	p, _ := newLongPoll(t, nil, nil)
	for i := range 3 {
		if !p.Send(lpText(fmt.Sprint(i))) {
			t.Fatal("Send refused")
		}
	}
	msgs, st := p.Poll(context.Background())
	if st != longpoll.PollMessages || len(msgs) != 3 || string(msgs[0]) != "0" || string(msgs[2]) != "2" {
		t.Fatalf("Poll: %v %q", st, msgs)
	}
}

func TestLongPollWindow(t *testing.T) {
	p, _ := newLongPoll(t, &longpoll.Options{Window: 30 * time.Millisecond}, nil)
	start := time.Now()
	msgs, st := p.Poll(context.Background())
	if st != longpoll.PollEmpty || msgs != nil || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("Poll: %v %q after %v", st, msgs, time.Since(start))
	}
}

func TestLongPollWokenBySend(t *testing.T) {
	p, _ := newLongPoll(t, &longpoll.Options{Window: time.Minute}, nil)
	done := make(chan [][]byte)
	go func() {
		msgs, _ := p.Poll(context.Background())
		done <- msgs
	}()
	time.Sleep(10 * time.Millisecond)
	p.Send(lpText("x"))
	select {
	case msgs := <-done:
		if len(msgs) != 1 || string(msgs[0]) != "x" {
			t.Fatalf("Poll got %q", msgs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not wake the poll")
	}
}

// TestLongPollPollOrPark: with parkAfter 0 a poll that finds nothing
// buffered is handed back at once as a Waiter, which Park finishes when a
// frame comes; one that finds frames takes them, with no Waiter; a
// negative parkAfter never parks.
func TestLongPollPollOrPark(t *testing.T) {
	p, _ := newLongPoll(t, &longpoll.Options{Window: time.Minute}, nil)
	start := time.Now()
	msgs, _, w := p.PollOrPark(context.Background(), 0)
	if w == nil || msgs != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("PollOrPark(0) with nothing buffered: waiter %v, msgs %q", w, msgs)
	}
	type outcome struct {
		msgs [][]byte
		st   longpoll.PollStatus
	}
	got := make(chan outcome, 1)
	w.Park(func() bool { return true }, func(msgs [][]byte, st longpoll.PollStatus) { got <- outcome{msgs, st} })
	p.Send(lpText("x"))
	if o := <-got; o.st != longpoll.PollMessages || len(o.msgs) != 1 || string(o.msgs[0]) != "x" {
		t.Fatalf("parked poll: %v %q", o.st, o.msgs)
	}

	p.Send(lpText("y"))
	if msgs, st, w := p.PollOrPark(context.Background(), 0); w != nil || st != longpoll.PollMessages || len(msgs) != 1 {
		t.Fatalf("PollOrPark(0) with a frame buffered: waiter %v, %v %q", w, st, msgs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if msgs, st, w := p.PollOrPark(ctx, -1); w != nil || st != longpoll.PollEmpty || msgs != nil {
		t.Fatalf("PollOrPark(-1): waiter %v, %v %q", w, st, msgs)
	}
}

func TestLongPollCanceledPollKeepsMessages(t *testing.T) {
	p, _ := newLongPoll(t, &longpoll.Options{Window: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, st := p.Poll(ctx); st != longpoll.PollEmpty {
		t.Fatalf("canceled poll: %v", st)
	}
	p.Send(lpText("kept"))
	if msgs, _ := p.Poll(context.Background()); len(msgs) != 1 {
		t.Fatalf("message lost: %q", msgs)
	}
}

func TestLongPollClose(t *testing.T) {
	p, closed := newLongPoll(t, &longpoll.Options{Window: time.Minute}, nil)
	p.Send(lpText("last"))
	p.Close(transport.CloseDisconnect)
	if r := <-closed; r != transport.CloseDisconnect {
		t.Fatalf("onClose reason %v", r)
	}
	if p.Send(lpText("late")) {
		t.Fatal("Send after Close accepted")
	}
	if msgs, st := p.Poll(context.Background()); st != longpoll.PollMessages || len(msgs) != 1 {
		t.Fatalf("first poll after Close: %v %q, want what was buffered", st, msgs)
	}
	if _, st := p.Poll(context.Background()); st != longpoll.PollGone {
		t.Fatalf("second poll after Close: %v, want PollGone", st)
	}
	if err := p.Dispatch([]byte("[]"), false); err != longpoll.ErrSessionClosed {
		t.Fatalf("Dispatch after Close: %v", err)
	}
	p.Close(transport.CloseNormal) // A second Close is ignored.
	select {
	case r := <-closed:
		t.Fatalf("onClose called again with %v", r)
	default:
	}
}

func TestLongPollInactive(t *testing.T) {
	p, closed := newLongPoll(t, &longpoll.Options{Window: 20 * time.Millisecond}, nil)
	select {
	case r := <-closed:
		if r != transport.CloseInactive {
			t.Fatalf("reason %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an unpolled session did not end")
	}
	if !p.Closed() {
		t.Fatal("Closed() false after inactivity")
	}
}

func TestLongPollSlowConsumer(t *testing.T) {
	p, closed := newLongPoll(t, &longpoll.Options{QueueBytes: 10, Window: time.Minute}, nil)
	if !p.Send(lpText("0123456789")) {
		t.Fatal("a frame within the bound was refused")
	}
	if p.Send(lpText("x")) {
		t.Fatal("an overflowing frame was accepted")
	}
	if r := <-closed; r != transport.CloseSlowConsumer {
		t.Fatalf("reason %v", r)
	}
}

func TestLongPollDispatchInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []string
	p, _ := newLongPoll(t, nil, func(data []byte, binary bool) *transport.CloseReason {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s/%v", data, binary))
		mu.Unlock()
		return nil
	})
	for i := range 20 {
		if err := p.Dispatch([]byte(fmt.Sprint(i)), i%2 == 1); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 20 || got[0] != "0/false" || got[19] != "19/true" {
		t.Fatalf("handled %v", got)
	}
}

func TestLongPollDispatchTimeoutAndClose(t *testing.T) {
	release := make(chan struct{})
	p, closed := newLongPoll(t, &longpoll.Options{Window: 20 * time.Millisecond}, func(data []byte, _ bool) *transport.CloseReason {
		switch string(data) {
		case "block":
			<-release
		case "bad":
			return &transport.CloseDecodeError
		}
		return nil
	})
	// Keep the session alive past its inactivity check while we wait.
	go p.Poll(context.Background())
	if err := p.Dispatch([]byte("block"), false); err != longpoll.ErrAckTimeout {
		t.Fatalf("blocked handler: %v, want ErrAckTimeout", err)
	}
	close(release)
	if err := p.Dispatch([]byte("bad"), false); err != longpoll.ErrSessionClosed {
		t.Fatalf("closing handler: %v, want ErrSessionClosed", err)
	}
	if r := <-closed; r != transport.CloseDecodeError {
		t.Fatalf("reason %v", r)
	}
}

func TestLongPollInvalidUTF8(t *testing.T) {
	p, closed := newLongPoll(t, nil, nil)
	if err := p.Dispatch([]byte("\xff"), false); err != longpoll.ErrSessionClosed {
		t.Fatalf("Dispatch: %v", err)
	}
	if r := <-closed; r != transport.CloseInvalidUTF8 {
		t.Fatalf("reason %v", r)
	}
}

func TestLongPollDropsBinary(t *testing.T) {
	p, _ := newLongPoll(t, nil, nil)
	p.Send(protocol.Frame{Data: []byte{1}, Binary: true})
	p.Send(lpText("t"))
	if msgs, _ := p.Poll(context.Background()); len(msgs) != 1 || string(msgs[0]) != "t" {
		t.Fatalf("Poll: %q", msgs)
	}
}

func TestTokenSigner(t *testing.T) {
	now := time.Now()
	s := longpoll.NewSigner([]byte("secret"), time.Hour)
	want := longpoll.Token{Node: "node-a", Session: "abc"}
	tok := s.Sign(want, now)
	if got, err := s.Verify(tok, now); err != nil || got != want {
		t.Fatalf("Verify: %+v %v", got, err)
	}
	if got, err := longpoll.NewSigner([]byte("secret"), time.Hour).Verify(tok, now); err != nil || got != want {
		t.Fatalf("same secret, other signer: %+v %v", got, err)
	}
	bad := map[string]string{
		"other secret":  longpoll.NewSigner([]byte("other"), time.Hour).Sign(want, now),
		"random secret": longpoll.NewSigner(nil, 0).Sign(want, now),
		"tampered":      strings.Replace(tok, tok[2:3], string("ABCD"[(strings.IndexByte("ABCD", tok[2])+1)%4]), 1),
		"no dot":        strings.ReplaceAll(tok, ".", ""),
		"empty":         "",
		"expired":       s.Sign(want, now.Add(-2*time.Hour)),
		"future":        s.Sign(want, now.Add(time.Hour)),
	}
	for name, b := range bad {
		if _, err := s.Verify(b, now); err != longpoll.ErrInvalidToken {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
}

func FuzzTokenVerify(f *testing.F) {
	s := longpoll.NewSigner([]byte("k"), 0)
	now := time.Now()
	f.Add(s.Sign(longpoll.Token{Node: "n", Session: "s"}, now))
	f.Add("x.y")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := s.Verify(tok, now)
		if err == nil && s.Sign(got, now) == "" {
			t.Fatal("unreachable")
		}
	})
}
