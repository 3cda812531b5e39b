package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// server is bare's HTTP handler: the socket and the two HTTP routes.
type server struct {
	mux   *http.ServeMux
	queue int

	mu     sync.RWMutex // Protects topics. Enqueueing never blocks, so broadcasts hold the read lock.
	topics map[string]map[*conn]bool

	conns sync.WaitGroup // every connection's goroutines
}

func newServer(queue int) *server {
	s := &server{mux: http.NewServeMux(), queue: queue, topics: map[string]map[*conn]bool{}}
	s.mux.HandleFunc("GET /socket/websocket", s.serveWS)
	s.mux.HandleFunc("POST /broadcast", s.postBroadcast)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// conn is one WebSocket connection.
type conn struct {
	s      *server
	ws     *websocket.Conn
	q      chan []byte
	closed sync.Once
	joined map[string]bool // the reader goroutine's
}

// send queues a frame; a full queue closes the connection.
func (c *conn) send(b []byte) {
	select {
	case c.q <- b:
	default:
		c.closed.Do(func() { go c.ws.CloseNow() })
	}
}

func (c *conn) writeLoop() {
	defer c.s.conns.Done()
	for b := range c.q {
		if c.ws.Write(context.Background(), websocket.MessageText, b) != nil {
			c.ws.CloseNow()
		}
	}
}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("vsn") != "2.0.0" {
		http.Error(w, "only vsn=2.0.0 is served", http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &conn{s: s, ws: ws, q: make(chan []byte, s.queue), joined: map[string]bool{}}
	s.conns.Add(1)
	go c.writeLoop()
	defer func() {
		ws.CloseNow()
		s.unsubscribe(c, c.joined)
		close(c.q) // no broadcast can reach c any more
	}()
	for {
		_, rd, err := ws.Reader(context.Background())
		if err != nil {
			return
		}
		bp := bufs.Get().(*bytes.Buffer)
		bp.Reset()
		_, err = bp.ReadFrom(rd)
		ok := err == nil && c.handle(bp.Bytes()) // handle copies what it keeps
		bufs.Put(bp)
		if !ok {
			return
		}
	}
}

// bufs holds read buffers, so an idle connection holds none.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *server) subscribe(c *conn, topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[topic] == nil {
		s.topics[topic] = map[*conn]bool{}
	}
	s.topics[topic][c] = true
}

func (s *server) unsubscribe(c *conn, topics map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range topics {
		delete(s.topics[t], c)
		if len(s.topics[t]) == 0 {
			delete(s.topics, t)
		}
	}
}

func (s *server) broadcast(topic string, frame []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for c := range s.topics[topic] {
		c.send(frame)
	}
}

var (
	replyEvent = []byte(`"phx_reply"`)
	okEmpty    = []byte(`{"response":{},"status":"ok"}`)
	unmatched  = []byte(`{"response":{"reason":"unmatched topic"},"status":"error"}`)
	unknown    = []byte(`{"response":{"reason":"unknown event"},"status":"error"}`)
)

// handle answers one frame; false closes the connection.
func (c *conn) handle(b []byte) bool {
	var f []json.RawMessage
	var topic, event string
	if json.Unmarshal(b, &f) != nil || len(f) != 5 ||
		json.Unmarshal(f[2], &topic) != nil || json.Unmarshal(f[3], &event) != nil {
		return false
	}
	joinRef, ref, payload := f[0], f[1], f[4]
	reply := func(p []byte) { c.send(encode(joinRef, ref, f[2], replyEvent, p)) }
	switch {
	case topic == "phoenix" && event == "heartbeat":
		reply(okEmpty)
	case event == "phx_join":
		if !strings.HasPrefix(topic, "room:") && !strings.HasPrefix(topic, "bench:") {
			reply(unmatched)
			return true
		}
		if !c.joined[topic] {
			c.joined[topic] = true
			c.s.subscribe(c, topic)
		}
		reply(okEmpty)
	case !c.joined[topic]:
		reply(unmatched)
	case event == "shout":
		c.s.broadcast(topic, encode(nil, nil, f[2], f[3], payload))
	case event == "echo":
		reply(append(append(append(make([]byte, 0, len(payload)+32), `{"response":`...), payload...), `,"status":"ok"}`...))
	case event == "phx_leave":
		c.s.unsubscribe(c, map[string]bool{topic: true})
		delete(c.joined, topic)
		reply(okEmpty)
	default:
		reply(unknown)
	}
	return true
}

// encode writes a V2 frame from JSON values (valid, as decoded or
// marshaled); a nil ref is null.
func encode(joinRef, ref, topic, event, payload []byte) []byte {
	b := make([]byte, 0, len(joinRef)+len(ref)+len(topic)+len(event)+len(payload)+16)
	b = append(b, '[')
	for i, v := range [][]byte{joinRef, ref, topic, event, payload} {
		if i > 0 {
			b = append(b, ',')
		}
		if v == nil {
			v = []byte("null")
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

func (s *server) postBroadcast(w http.ResponseWriter, r *http.Request) {
	topic, event := r.URL.Query().Get("topic"), r.URL.Query().Get("event")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(body) == 0 {
		body = []byte("{}")
	}
	if topic == "" || event == "" || err != nil || !json.Valid(body) {
		http.Error(w, "want ?topic=T&event=E and a JSON body", http.StatusBadRequest)
		return
	}
	t, _ := json.Marshal(topic)
	e, _ := json.Marshal(event)
	s.broadcast(topic, encode(nil, nil, t, e, body))
	io.WriteString(w, "ok")
}
