package presence

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
)

// refs makes phx_refs: 12 bytes, URL-safe base64, 16 characters like
// Phoenix's. The first 6 bytes are random per tracker, the last 6 count,
// so refs are unique in the cluster without coordination (two trackers
// collide only if their 48 random bits do).
type refs struct {
	prefix [6]byte
	n      atomic.Uint64
}

func newRefs() *refs {
	r := &refs{}
	_, _ = rand.Read(r.prefix[:]) // crypto/rand.Read never fails.
	return r
}

func (r *refs) next() string {
	var b [12]byte
	copy(b[:6], r.prefix[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], r.n.Add(1))
	copy(b[6:], n[2:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// randomID is a random hex string, for a tracker's incarnation (vsn).
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
