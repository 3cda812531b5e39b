package channeltest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyrehq/pyre/channel"
	"github.com/pyrehq/pyre/channeltest"
	"github.com/pyrehq/pyre/presence"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
	"github.com/pyrehq/pyre/socket"
)

// Every goroutine the kit starts, and every one of the test servers, must
// be gone once the tests have ended.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// discard is the logger of the test servers: the tests crash channels on
// purpose.
var discard = slog.New(slog.DiscardHandler)

// modes are the serializers every end-to-end test runs with.
var modes = []struct {
	name string
	ser  protocol.Serializer
}{
	{"V1", protocol.V1},
	{"V2", protocol.V2},
}

// run runs f once per serializer, in parallel.
func run(t *testing.T, f func(t *testing.T, opts *channeltest.Options)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			f(t, &channeltest.Options{Serializer: m.ser})
		})
	}
}

// app is a test application: a socket.Server with the room channel on
// "room:*" and a presence tracker, shut down when the test ends.
type app struct {
	*socket.Server
	tracker *presence.Tracker
	ps      *pubsub.PubSub
}

// newApp starts an app. Its Connect refuses the token "bad", answers 429
// for the token "busy", and takes the user from the "user" param; a
// named user's socket id is "user_socket:" + user.
func newApp(t testing.TB) *app {
	t.Helper()
	ps, err := pubsub.New(context.Background(), &pubsub.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	tracker, err := presence.New(ps, &presence.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := socket.New(&socket.Options{
		PubSub:    ps,
		Logger:    discard,
		AuthToken: true,
		Connect: func(_ context.Context, params socket.Params, info *socket.ConnectInfo) (map[string]any, error) {
			switch params.Get("token") {
			case "bad":
				return nil, socket.ErrRefused
			case "busy":
				return nil, errBusy
			}
			assigns := map[string]any{"user": params.Get("user"), "token": info.AuthToken}
			for _, h := range info.XHeaders {
				assigns[h.Name] = h.Value
			}
			return assigns, nil
		},
		ID: func(assigns map[string]any) string {
			if u := assigns["user"].(string); u != "" {
				return "user_socket:" + u
			}
			return ""
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(429)
			_, _ = w.Write([]byte("slow down"))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Channel("room:*", func() channel.Handler { return &room{tracker: tracker} })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := tracker.Shutdown(ctx); err != nil {
			t.Errorf("tracker shutdown: %v", err)
		}
		if err := ps.Close(ctx); err != nil {
			t.Errorf("pubsub close: %v", err)
		}
	})
	return &app{Server: srv, tracker: tracker, ps: ps}
}

var errBusy = errors.New("busy")

// room is the channel under test. Its join params and events pick what it
// does; see Join and HandleIn.
type room struct {
	tracker *presence.Tracker
	user    string
	wg      sync.WaitGroup // Replies made later.
}

type joinParams struct {
	Refuse   bool   `json:"refuse"`
	Crash    bool   `json:"crash"`
	Fail     string `json:"fail"`
	Presence bool   `json:"presence"`
	Greet    bool   `json:"greet"`
}

type afterJoin struct{ presence, greet bool }

func (r *room) Join(_ context.Context, s *channel.Socket, topic string, payload protocol.Payload) (any, error) {
	var p joinParams
	if !payload.IsBinary() {
		_ = json.Unmarshal(payload.Bytes(), &p)
	}
	switch {
	case p.Refuse:
		return nil, channel.Refuse(map[string]string{"reason": "unauthorized"})
	case p.Crash:
		panic("join crash")
	case p.Fail != "":
		return nil, errors.New(p.Fail)
	}
	r.user, _ = s.Assigns["user"].(string)
	if p.Presence || p.Greet {
		s.Send(afterJoin{presence: p.Presence, greet: p.Greet})
	}
	return map[string]any{"welcome": r.user, "assigns": s.Assigns}, nil
}

func (r *room) HandleInfo(ctx context.Context, s *channel.Socket, msg any) error {
	if m, ok := msg.(afterJoin); ok {
		if m.greet {
			if err := s.Push("greeting", map[string]string{"text": "welcome to " + s.Topic()}); err != nil {
				return err
			}
		}
		if m.presence {
			_, err := r.tracker.TrackAndPushState(ctx, s, r.user, map[string]any{"status": "online"})
			return err
		}
	}
	return nil
}

func (r *room) HandleIn(ctx context.Context, s *channel.Socket, in *channel.Message) error {
	switch in.Event {
	case "ping":
		return in.Reply("ok", map[string]any{"pong": json.RawMessage(in.Payload.Bytes())})
	case "echo":
		return in.Reply("ok", in.Payload)
	case "refuse":
		return in.Reply("error", map[string]string{"reason": "no"})
	case "later":
		ref := in.ReplyRef()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			time.Sleep(20 * time.Millisecond)
			_ = ref.Reply("ok", map[string]string{"done": "later"})
		}()
		return nil
	case "noreply":
		return nil
	case "push":
		return s.Push("pushed", in.Payload)
	case "count":
		for i := 1; i <= 3; i++ {
			if err := s.Push("tick", map[string]int{"n": i}); err != nil {
				return err
			}
		}
		return in.Reply("ok", nil)
	case "shout":
		if err := s.Broadcast(ctx, "shout", in.Payload); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "shout_from":
		if err := s.BroadcastFrom(ctx, "shout", in.Payload); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "new_msg":
		if err := s.Broadcast(ctx, "new_msg", in.Payload); err != nil {
			return err
		}
		return in.Reply("ok", nil)
	case "binary":
		if err := s.Push("bin", protocol.Binary([]byte{1, 2, 3})); err != nil {
			return err
		}
		return in.Reply("ok", protocol.Binary(append([]byte("got:"), in.Payload.Bytes()...)))
	case "status":
		_, err := r.tracker.UpdateSocket(s, r.user, map[string]any{"status": "away"})
		return err
	case "boom":
		panic("boom")
	case "fail":
		return errors.New("database down")
	case "stop":
		if err := in.Reply("ok", map[string]bool{"bye": true}); err != nil {
			return err
		}
		return fmt.Errorf("done: %w", channel.ErrStop)
	}
	return in.Reply("error", map[string]string{"reason": "unknown event " + in.Event})
}

// Intercept takes new_msg, which each subscriber marks with its own user
// and drops when it is to someone else.
func (r *room) Intercept() []string { return []string{"new_msg"} }

func (r *room) HandleOut(_ context.Context, s *channel.Socket, event string, payload protocol.Payload) error {
	var m map[string]any
	if err := json.Unmarshal(payload.Bytes(), &m); err != nil {
		return err
	}
	if to, ok := m["to"].(string); ok && to != r.user {
		return nil
	}
	m["seen_by"] = r.user
	return s.Push(event, m)
}

func (r *room) Terminate(context.Context, *channel.Socket, error) {
	r.wg.Wait()
}

// fakeTB is a testing.TB that records the first failure instead of
// failing the test, and where it was reported from, as the testing
// package would print it: the first caller that did not call Helper.
// Everything else goes to the real test.
type fakeTB struct {
	testing.TB

	mu      sync.Mutex
	helpers map[string]bool
	msg     string
	where   string
	failed  bool
}

func (f *fakeTB) Helper() {
	pc, _, _, _ := runtime.Caller(1)
	f.mu.Lock()
	f.helpers[runtime.FuncForPC(pc).Name()] = true
	f.mu.Unlock()
}

func (f *fakeTB) Fatal(args ...any)                 { f.record(fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Error(args ...any)                 { f.record(fmt.Sprint(args...)) }
func (f *fakeTB) Errorf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }
func (f *fakeTB) FailNow()                          { f.record("FailNow") }
func (f *fakeTB) Fail()                             { f.record("Fail") }

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// record keeps the failure and ends the goroutine, as t.FailNow does.
func (f *fakeTB) record(msg string) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	where := ""
	f.mu.Lock()
	for {
		fr, more := frames.Next()
		if !f.helpers[fr.Function] {
			where = fmt.Sprintf("%s:%d", filepath.Base(fr.File), fr.Line)
			break
		}
		if !more {
			break
		}
	}
	if !f.failed {
		f.failed, f.msg, f.where = true, msg, where
	}
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs body with a fakeTB in a goroutine of its own, and returns
// the failure it reported ("" if none) and the file:line it pointed at.
func failure(t *testing.T, body func(tb testing.TB)) (msg, where string) {
	t.Helper()
	f := &fakeTB{TB: t, helpers: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg, f.where
}
