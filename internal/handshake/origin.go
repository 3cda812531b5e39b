// Package handshake holds the checks Phoenix applies to a request before
// a socket connects: the origin policy, the subprotocol list and
// phoenix.js 1.8's authToken.
package handshake

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pyrehq/pyre/transport"
)

// OriginChecker applies a compiled transport.OriginPolicy. It is safe for
// concurrent use.
type OriginChecker struct {
	p       transport.OriginPolicy
	allowed []*url.URL
}

var errOriginNoHost = errors.New("socket: CheckOrigin entry has no host")

// NewOriginChecker compiles p. An allowed origin without a host is an error.
func NewOriginChecker(p transport.OriginPolicy) (*OriginChecker, error) {
	c := &OriginChecker{p: p}
	for _, o := range p.Origins {
		u, err := parseOrigin(o)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("%w: %q", errOriginNoHost, o)
		}
		c.allowed = append(c.allowed, u)
	}
	return c, nil
}

// Allow reports whether r's Origin header passes the policy.
func (c *OriginChecker) Allow(r *http.Request) bool {
	if c == nil || c.p.Disabled {
		return true
	}
	vals := r.Header.Values("Origin")
	if len(vals) == 0 {
		return true
	}
	origin, err := parseOrigin(vals[0])
	if err != nil {
		origin = &url.URL{}
	}
	if c.p.Func != nil {
		return c.p.Func(origin, r)
	}
	host := origin.Hostname()
	if host == "" {
		return false
	}
	if len(c.allowed) == 0 && c.p.Conn {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		want, err := parseOrigin(scheme + "://" + r.Host)
		return err == nil && origin.Scheme == scheme && strings.EqualFold(host, want.Hostname()) && origin.Port() == want.Port()
	}
	if len(c.allowed) == 0 {
		want := c.p.Host
		if want == "" {
			want = r.Host
			if h, _, err := net.SplitHostPort(want); err == nil {
				want = h
			}
		}
		return strings.EqualFold(host, strings.Trim(want, "[]"))
	}
	for _, a := range c.allowed {
		if originMatches(a, origin) {
			return true
		}
	}
	return false
}

func originMatches(allowed, origin *url.URL) bool {
	if allowed.Scheme != "" && allowed.Scheme != origin.Scheme {
		return false
	}
	if allowed.Port() != "" && allowed.Port() != origin.Port() {
		return false
	}
	want := allowed.Hostname()
	got := origin.Hostname()
	if rest, ok := strings.CutPrefix(want, "*."); ok {
		return got == rest || strings.HasSuffix(got, "."+rest)
	}
	return got == want
}

var defaultPorts = map[string]int{
	"http": 80, "https": 443, "ws": 80, "wss": 443,
	"ftp": 21, "sftp": 22, "tftp": 69, "ldap": 389,
}

// parseOrigin parses an origin or an allowed-origin entry, filling in the
// default port of a known scheme as Elixir's URI.parse does.
func parseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Port() == "" && u.Host != "" {
		if p, ok := defaultPorts[u.Scheme]; ok {
			u.Host = net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(p))
		}
	}
	return u, nil
}
