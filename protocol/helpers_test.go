package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// jsonEqual reports whether a and b are the same JSON value, ignoring key
// order and whitespace.
func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got %s, want (as JSON) %s", got, want)
	}
}

func success(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func errorIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func equal[T comparable](t *testing.T, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %#v, want %#v", name, got, want)
	}
}

// msg is a comparable view of a Message.
type msg struct {
	JoinRef, Ref, Topic, Event string
	Payload                    string
	Binary                     bool
	RawTop                     bool // TopicJSON
}

func view(m Message) msg {
	return msg{
		JoinRef: string(m.JoinRef),
		Ref:     string(m.Ref),
		Topic:   m.Topic,
		RawTop:  m.TopicJSON,
		Event:   m.Event,
		Payload: string(m.Payload.Bytes()),
		Binary:  m.Payload.IsBinary(),
	}
}

// appendClientPush encodes m as a phoenix.js client binary push (kind 0
// with a ref), the frame decodeBinary reads.
func appendClientPush(dst []byte, m *Message) []byte {
	jr, ref := m.JoinRef.String(), m.Ref.String()
	dst = append(dst, 0, byte(len(jr)), byte(len(ref)), byte(len(m.Topic)), byte(len(m.Event)))
	dst = append(dst, jr...)
	dst = append(dst, ref...)
	dst = append(dst, m.Topic...)
	dst = append(dst, m.Event...)
	return append(dst, m.Payload.Bytes()...)
}

func hexBytes(parts ...any) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b.WriteByte(byte(p))
		case string:
			b.WriteString(p)
		}
	}
	return b.Bytes()
}

// raceEnabled is set by race_test.go; allocation counts are not checked
// under the race detector.
var raceEnabled bool
