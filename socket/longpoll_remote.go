package socket

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pyrehq/pyre/internal/longpoll"
	"github.com/pyrehq/pyre/protocol"
	"github.com/pyrehq/pyre/pubsub"
)

// A long-poll session lives in the Server that created it, on one node.
// A request that reaches another Server, on another node behind a load
// balancer without sticky sessions, is carried to it through the PubSub,
// as Phoenix's LongPoll does: the Server that got the request sends a
// request message to the holder's topic on the holder's node
// (DirectBroadcast); the holder acks at once and then answers with the
// finished response body, on a reply topic of the asker's node. Without
// an ack within PubSubTimeout the session counts as gone, as in Phoenix.
// Each Server's session ids begin with its own random id, which names its
// topic.
const (
	lpTopicPrefix = "phx:lp:"
	lpReplyPrefix = "phx:lp:reply:"

	eventRequest    = "request"     // asker → holder: a remoteRequest.
	eventAck        = "ack"         // holder → asker: the session is here, an answer follows.
	eventReply      = "reply"       // holder → asker: the JSON body to answer with HTTP 200.
	eventGone       = "gone"        // holder → asker: no such session.
	eventBadRequest = "bad_request" // holder → asker: answer HTTP 400.

	// remoteGrace is how much longer than the window the asker waits for
	// the holder's answer after its ack.
	remoteGrace = 5 * time.Second
)

// remoteRequest is a poll or a publish forwarded to the holder of a
// session. The holder verifies Token itself.
type remoteRequest struct {
	Token   string `json:"token"`
	Node    string `json:"node"`  // The asker's node,
	Reply   string `json:"reply"` // and its reply topic.
	Publish bool   `json:"publish,omitempty"`
	NDJSON  bool   `json:"ndjson,omitempty"`
	Body    []byte `json:"body,omitempty"`
}

// randomID is n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// holderID is the id of the Server that holds session sid.
func holderID(sid string) string {
	id, _, _ := strings.Cut(sid, ".")
	return id
}

// subscribeRemote starts answering requests for this Server's sessions
// that reach other Servers.
func (s *Server) subscribeRemote() error {
	sub, err := s.ps.Subscribe(lpTopicPrefix+s.lp.id, pubsub.SubscriberFunc(func(m *pubsub.Message) {
		if m.Event == eventRequest {
			// Deliver must not block: a publish waits for its frames
			// to be handled, a poll hands off to Park.
			b := m.Payload.Bytes()
			s.group.Go(func() { s.serveRemote(b) })
		}
	}))
	if err != nil {
		return fmt.Errorf("socket: long-poll: %w", err)
	}
	s.lp.sub = sub
	return nil
}

// unsubscribeRemote stops answering for this Server's sessions.
func (s *Server) unsubscribeRemote() { s.lp.sub.Unsubscribe() }

// mayHold reports whether the Server id on node may hold sessions. On
// this node, only a running long-poll Server subscribes to its topic, so
// a session of a Server that no longer runs (after a restart) is known
// gone at once, without waiting PubSubTimeout for an answer.
func (s *Server) mayHold(node, id string) bool {
	return node != s.ps.Node() || s.ps.Subscribers(lpTopicPrefix+id) > 0
}

// serveRemote answers a request forwarded by another Server.
func (s *Server) serveRemote(b []byte) {
	var req remoteRequest
	if err := json.Unmarshal(b, &req); err != nil {
		s.log.Warn("bad long-poll request from another node", "err", err)
		return
	}
	reply := func(event string, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), remoteGrace)
		defer cancel()
		m := &pubsub.Message{Topic: req.Reply, Event: event, Payload: protocol.JSON(body)}
		if err := s.ps.DirectBroadcast(ctx, req.Node, m); err != nil {
			s.log.Warn("long-poll answer to another node lost", "node", req.Node, "err", err)
		}
	}
	var sess *longpoll.Session
	if t, err := s.lp.signer.Verify(req.Token, time.Now()); err == nil {
		sess = s.held(t)
	}
	if sess == nil {
		reply(eventGone, []byte("{}"))
		return
	}
	reply(eventAck, []byte("{}"))
	if req.Publish {
		if st, ok := s.publishBody(sess, req.NDJSON, req.Body); ok {
			reply(eventReply, statusBody(st))
		} else {
			reply(eventBadRequest, []byte("{}"))
		}
		return
	}
	msgs, st, w := sess.PollOrPark(context.Background(), 0)
	if w == nil {
		s.polled(msgs)
		reply(eventReply, appendPoll(nil, int(st), req.Token, msgs))
		return
	}
	// The asker's client cannot be seen from here: the frames go to the
	// asker, as in Phoenix.
	w.Park(func() bool { return true }, func(msgs [][]byte, st longpoll.PollStatus) {
		s.polled(msgs)
		reply(eventReply, appendPoll(nil, int(st), req.Token, msgs))
	})
}

// forward carries a poll or a publish whose session another Server holds
// (named by t) to that Server, and answers with what it answers. When the
// holder cannot be reached or has no such session, a poll opens a new
// session here and a publish gets 410, as for an unknown session.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, t longpoll.Token, token string) {
	req := remoteRequest{Token: token, Node: s.ps.Node(), Reply: lpReplyPrefix + randomID(16)}
	if r.Method == http.MethodPost {
		body, ok := s.readPublish(w, r)
		if !ok {
			return
		}
		req.Publish, req.NDJSON, req.Body = true, isNDJSON(r), body
	}
	got := make(chan *pubsub.Message, 2) // The ack and the answer.
	sub, err := s.ps.Subscribe(req.Reply, pubsub.SubscriberFunc(func(m *pubsub.Message) {
		select {
		case got <- m:
		default:
		}
	}))
	if err != nil { // The PubSub is closed: this Server is shutting down.
		http.Error(w, ErrServerClosed.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Unsubscribe()

	b, _ := json.Marshal(req)
	m := &pubsub.Message{Topic: lpTopicPrefix + holderID(t.Session), Event: eventRequest, Payload: protocol.JSON(b)}
	event := eventGone
	var body []byte
	if err := s.ps.DirectBroadcast(r.Context(), t.Node, m); err == nil {
		timer := time.NewTimer(s.lp.opts.PubSubTimeout)
		defer timer.Stop()
	wait:
		for {
			select {
			case m := <-got:
				if m.Event == eventAck {
					timer.Reset(s.lp.opts.Window + remoteGrace)
					continue
				}
				event, body = m.Event, m.Payload.Bytes()
				break wait
			case <-timer.C:
				s.log.Warn("no long-poll answer from the node holding the session", "node", t.Node)
				break wait
			case <-r.Context().Done():
				return
			}
		}
	}
	switch event {
	case eventReply:
		writeJSON(w, body)
	case eventBadRequest:
		w.WriteHeader(http.StatusBadRequest)
	case eventGone:
		if req.Publish {
			writeStatus(w, http.StatusGone)
		} else {
			s.newSession(w, r, true)
		}
	}
}
