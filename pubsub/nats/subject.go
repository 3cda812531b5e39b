package nats

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Subjects. Every subject the adapter uses starts with the prefix
// (Options.Prefix), then one token for the kind, then one token naming the
// topic or the node:
//
//	<prefix>.t.<base64url(topic)>       broadcasts of a topic
//	<prefix>.th.<base64url(sha256(topic))> the same, for a long topic
//	<prefix>.n.<base64url(node)>        direct broadcasts to a node
//	<prefix>.nh.<base64url(sha256(node))>  the same, for a long node name
//
// Topics and node names are any strings, and NATS gives '.', '*', '>' and
// whitespace a meaning, so names are base64url-encoded (without padding),
// whose alphabet is A-Z a-z 0-9 - _. Names longer than maxPlainName bytes,
// and the empty name, are hashed instead: the NATS control line ("PUB
// <subject> <size>") must fit in the server's max_control_line (4 KiB by
// default). The message itself carries the exact topic, which is what the
// receiving node delivers by, so a hashed subject loses nothing.
const (
	kindTopic       = "t"
	kindTopicHashed = "th"
	kindNode        = "n"
	kindNodeHashed  = "nh"
)

// maxPlainName is the longest name (in bytes) kept readable in a subject:
// 192 bytes make 256 base64 characters.
const maxPlainName = 192

// subjects maps topics and node names to subjects under one prefix.
type subjects struct {
	prefix string // Without the final dot.
}

// topic returns the subject of topic's broadcasts.
func (s subjects) topic(topic string) string {
	return s.name(kindTopic, kindTopicHashed, topic)
}

// node returns the subject of the direct broadcasts to node.
func (s subjects) node(node string) string {
	return s.name(kindNode, kindNodeHashed, node)
}

// all returns the wildcard subject that matches every subject of s.
func (s subjects) all() string { return s.prefix + ".>" }

func (s subjects) name(plain, hashed, name string) string {
	if len(name) == 0 || len(name) > maxPlainName {
		sum := sha256.Sum256([]byte(name))
		return s.prefix + "." + hashed + "." + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return s.prefix + "." + plain + "." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// checkPrefix returns why prefix cannot start a NATS subject, or nil: it
// must be one or more non-empty tokens separated by dots, without
// wildcards ('*', '>') or whitespace.
func checkPrefix(prefix string) error {
	for tok := range strings.SplitSeq(prefix, ".") {
		if tok == "" {
			return fmt.Errorf("pubsub/nats: invalid Prefix %q: empty token", prefix)
		}
		if i := strings.IndexAny(tok, "*> \t\r\n\x00"); i >= 0 {
			return fmt.Errorf("pubsub/nats: invalid Prefix %q: %q is not allowed in a subject", prefix, tok[i])
		}
	}
	return nil
}
