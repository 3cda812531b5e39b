package presence

import (
	"context"

	"github.com/pyrehq/pyre/channel"
)

// The channel helpers track a joined channel, like Phoenix's
// Presence.track(socket, key, meta): the topic is the channel's, and the
// owner is the channel itself, so its entries are untracked when it ends
// for any reason (leave, stop, crash, the connection closing, a duplicate
// join), when s.Context() is done.
//
// Pushes are refused inside Join, so call them after the join, from
// HandleInfo (send the channel a message in Join, as Phoenix apps send
// themselves :after_join), or from HandleIn.

// TrackAndPushState is the usual after-join step: it tracks the channel
// under key with meta, then pushes presence_state (the list, itself
// included) to its client, and only then lets the presence_diff of its
// own join go out, so the client sees them in the order a Phoenix app
// sends them. It returns the entry's phx_ref.
func (t *Tracker) TrackAndPushState(ctx context.Context, s *channel.Socket, key string, meta map[string]any) (ref string, err error) {
	ref, it, err := t.trackSocket(s, key, meta, true)
	if err != nil {
		return "", err
	}
	defer close(it.release) // The diff of the join may go out now.
	return ref, t.PushState(ctx, s)
}

// TrackSocket tracks the channel under key with meta on its topic, and
// returns the entry's phx_ref. A channel may track several keys; tracking
// one twice returns [ErrAlreadyTracked].
func (t *Tracker) TrackSocket(s *channel.Socket, key string, meta map[string]any) (ref string, err error) {
	ref, _, err = t.trackSocket(s, key, meta, false)
	return ref, err
}

func (t *Tracker) trackSocket(s *channel.Socket, key string, meta map[string]any, held bool) (string, *diffItem, error) {
	ref, it, err := t.track(ownerKey{sock: s}, s.Topic(), key, meta, held)
	if err != nil {
		return "", nil, err
	}
	t.watch(s)
	return ref, it, nil
}

// watch untracks everything s tracks once its channel ends. It is called
// after the track, so a channel that has already ended is untracked at
// once rather than leaking its entry.
func (t *Tracker) watch(s *channel.Socket) {
	t.sockMu.Lock()
	defer t.sockMu.Unlock()
	if _, ok := t.sockets[s]; ok || t.isDown.Load() {
		return
	}
	t.sockets[s] = context.AfterFunc(s.Context(), func() {
		t.sockMu.Lock()
		delete(t.sockets, s)
		t.sockMu.Unlock()
		t.untrackOwner(ownerKey{sock: s}) // Short: it only queues the leave.
	})
}

// UntrackSocket removes the channel's entry for key, if any.
func (t *Tracker) UntrackSocket(s *channel.Socket, key string) {
	t.untrack(ownerKey{sock: s}, s.Topic(), &key)
}

// UpdateSocket replaces the meta of the channel's entry for key; see
// [Tracker.Update].
func (t *Tracker) UpdateSocket(s *channel.Socket, key string, meta map[string]any) (ref string, err error) {
	return t.update(ownerKey{sock: s}, s.Topic(), key, func(map[string]any) map[string]any { return meta })
}

// UpdateSocketFunc is UpdateSocket with the new meta computed from the
// current one; see [Tracker.UpdateFunc].
func (t *Tracker) UpdateSocketFunc(s *channel.Socket, key string, fn func(old map[string]any) map[string]any) (ref string, err error) {
	return t.update(ownerKey{sock: s}, s.Topic(), key, fn)
}

// PushState pushes presence_state, the list of the channel's topic, to
// the channel's client, as Phoenix apps do after each join: phoenix.js
// Presence applies no diff until it has the state of the current join.
func (t *Tracker) PushState(ctx context.Context, s *channel.Socket) error {
	p, err := t.State(ctx, s.Topic())
	if err != nil {
		return err
	}
	return s.Push(EventState, p)
}
