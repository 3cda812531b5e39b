package prometheus

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// otherValue is the label value of everything past a label's bound, and
// of the events not in Options.HandleInEvents.
const otherValue = "other"

// Bounds of the label values a children set adds beyond those it starts
// with (the values the core uses today): a newer core may add a close
// reason or a callback, and a bug must not make the series grow without
// end. Past the bound, values count as "other".
const (
	maxExtraValues     = 16
	maxExtraTransports = 4 // Each brings 27 series.
)

// children maps the values of one label to pre-made children (a counter,
// a struct of counters), so that a hook finds its series with one map
// read and no allocation. The map is copied on write: reads take no lock.
// Its methods are safe for concurrent use.
type children[T any] struct {
	m     atomic.Pointer[map[string]T]
	newFn func(value string) T

	mu  sync.Mutex // Serializes the writers of m.
	max int        // The size m may reach, "other" included.
}

// newChildren makes the children of values with newFn, which is called
// again, once, for each of at most extra values added later.
func newChildren[T any](newFn func(string) T, extra int, values ...string) *children[T] {
	m := make(map[string]T, len(values))
	for _, v := range values {
		m[v] = newFn(v)
	}
	c := &children[T]{newFn: newFn, max: len(m) + extra + 1}
	c.m.Store(&m)
	return c
}

// get returns the child of value, made on first use.
func (c *children[T]) get(value string) T {
	if t, ok := (*c.m.Load())[value]; ok {
		return t
	}
	return c.add(value)
}

// add makes the child of a value not seen before, or returns "other"'s
// when the set is full.
func (c *children[T]) add(value string) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if t, ok := old[value]; ok {
		return t
	}
	if len(old) >= c.max-1 {
		if t, ok := old[otherValue]; ok {
			return t
		}
		value = otherValue
	}
	t := c.newFn(strings.ToValidUTF8(value, "\uFFFD"))
	m := maps.Clone(old)
	m[value] = t
	c.m.Store(&m)
	return t
}
