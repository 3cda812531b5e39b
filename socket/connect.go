package socket

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Header is one request header: the name in lower case and its value.
type Header struct {
	Name  string
	Value string
}

// ConnectInfo describes the request a connection came from (Phoenix's
// connect_info), for [Options.Connect].
type ConnectInfo struct {
	// Transport is "websocket" or "longpoll".
	Transport string
	// PeerAddress and PeerPort are the TCP peer's.
	PeerAddress string
	PeerPort    int
	// XHeaders holds every header whose name starts with "x-".
	XHeaders []Header
	// TraceContextHeaders holds traceparent and tracestate.
	TraceContextHeaders []Header
	// SecWebSocketHeaders holds every header starting with
	// "sec-websocket-" (after the auth token was taken out).
	SecWebSocketHeaders []Header
	// URI is the request URI with scheme "http" or "https", host and port.
	URI *url.URL
	// UserAgent is the User-Agent header.
	UserAgent string
	// AuthToken is phoenix.js's authToken when Options.AuthToken is on.
	AuthToken string
	// Request is the HTTP request, valid only during Connect.
	Request *http.Request
}

func newConnectInfo(r *http.Request, transportName string) *ConnectInfo {
	info := &ConnectInfo{Transport: transportName, UserAgent: r.UserAgent(), Request: r}
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		info.PeerAddress = host
		info.PeerPort, _ = strconv.Atoi(port)
	}
	for name, vals := range r.Header {
		lname := strings.ToLower(name)
		for _, v := range vals {
			h := Header{Name: lname, Value: v}
			switch {
			case strings.HasPrefix(lname, "x-"):
				info.XHeaders = append(info.XHeaders, h)
			case lname == "traceparent" || lname == "tracestate":
				info.TraceContextHeaders = append(info.TraceContextHeaders, h)
			case strings.HasPrefix(lname, "sec-websocket-"):
				info.SecWebSocketHeaders = append(info.SecWebSocketHeaders, h)
			}
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	port := 80
	if scheme == "https" {
		port = 443
	}
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	info.URI = &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	return info
}
