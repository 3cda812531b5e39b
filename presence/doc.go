// Package presence tracks who is on a topic and keeps every client's view
// up to date, as Phoenix.Presence does, in the formats the phoenix.js
// Presence client reads.
//
// Start with [New], which binds a [Tracker] to the app's [pubsub.PubSub].
// In a channel, after the join, [Tracker.TrackAndPushState] tracks the
// channel under a key (a user id) with a meta map and pushes the
// "presence_state" list to its client; the entry is untracked when the
// channel ends, for any reason. Every change is broadcast to the topic as
// "presence_diff" ({"joins": ..., "leaves": ...}), which phoenix.js applies
// to its copy. [Tracker.Track], [Tracker.Update] and [Tracker.Untrack]
// track anything else, under an owner name; [Tracker.List] and
// [Tracker.Get] read the state, through the optional [Options.Fetch] hook.
//
// # Wire
//
// A key maps to {"metas": [meta, ...]}, oldest first; each meta carries a
// "phx_ref" unique in the cluster, and "phx_ref_prev" after an update. An
// update is one diff: the old meta as a leave and the new one as a join.
// Diffs of one topic are broadcast in the order the changes happened,
// gathered over [Options.DiffWindow] (25 ms by default): the changes of
// a topic made within the window go out merged in one diff, which leaves
// phoenix.js with the same state in far fewer frames (in a room of N
// members, N joins cost about N × their duration / (2 × window) frames
// rather than N²/2). A change waits at most the window, plus the
// broadcast of what was queued before it. The merge works per phx_ref,
// as phoenix.js applies a diff (joins first, then leaves): a join then a
// leave both go, a leave then a join of the same phx_ref (a node back
// after being down) goes as the join, and a key's metas keep their order.
//
// # Nodes
//
// Every node of the PubSub runs a tracker of the same [Options.Name]. Each
// node owns its entries and sends their changes to the others on the topic
// "phx_presence:" + Name, with a heartbeat every BroadcastPeriod; a
// starting node gets the others' state at once. Every node broadcasts the
// diffs it sees to its own subscribers only, so each client gets each
// change once. A node silent for DownPeriod (30 s by default) is dropped:
// its entries leave, and come back as joins if it returns. Shutdown tells
// the others to drop this node's entries at once. Only the [pubsub.PubSub]
// interface is used, with JSON payloads, so any adapter carries it.
//
// # Concurrency
//
// All methods of [Tracker] are safe for concurrent use. State is sharded
// by topic, each shard under its own lock: tracking and listing on
// different topics never wait for each other, and none of them waits for
// the network. Diffs are broadcast by one goroutine per shard, and gossip
// handled by one more, each started while there is work; Shutdown waits
// for them. The Fetch hook runs on those goroutines and on the callers of
// List, Get and the socket helpers, never under a lock.
//
// Lock order: a topic shard's mu, then an owner shard's mu, the outbox
// mu, the shard's queue mu, the gossip mailbox mu, and last the tracker's
// life mu. The gossip worker takes every shard's mu, in index order, to
// copy the state it sends a new node.
package presence
