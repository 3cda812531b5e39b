package procfs

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// TCP socket states as /proc/net/tcp numbers them.
const (
	StateEstablished = 1
	StateTimeWait    = 6
	StateListen      = 10
)

var stateNames = [...]string{1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV",
	4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT",
	9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}

// StateName names a TCP state as ss does.
func StateName(st int) string {
	if st > 0 && st < len(stateNames) {
		return stateNames[st]
	}
	return "state " + strconv.Itoa(st)
}

// Socket is one line of /proc/net/tcp or tcp6. On loopback both ends of a
// connection are listed, so the server's end of a client's connection
// can be read without the server's help.
type Socket struct {
	Local, Remote         netip.Addr // IPv4-mapped IPv6 addresses are unmapped
	LocalPort, RemotePort int
	State                 int
	SendQ                 int64 // bytes not yet acknowledged by the peer
	Inode                 string
}

// Sockets reads /proc/net/tcp and /proc/net/tcp6; a file it cannot read
// adds nothing. With port > 0, only the sockets whose local port it is.
func Sockets(port int) []Socket {
	var out []Socket
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		out = append(out, ParseSockets(string(b), port)...)
	}
	return out
}

// ParseSockets parses the text of /proc/net/tcp{,6}, skipping the header
// and any line it cannot read. With port > 0 it keeps only the sockets
// whose local port it is, and skips the other lines before parsing them:
// a busy machine lists tens of thousands.
func ParseSockets(text string, port int) []Socket {
	var out []Socket
	suffix := fmt.Sprintf(":%04X ", port)
	for line := range strings.Lines(text) {
		if port > 0 && !localPortIs(line, suffix) {
			continue
		}
		if s, ok := parseSocket(line); ok {
			out = append(out, s)
		}
	}
	return out
}

// localPortIs reports whether the local address of a line, its second
// field, ends with suffix (":PORT ").
func localPortIs(line, suffix string) bool {
	i := strings.IndexByte(line, ':') // after the slot number
	if i < 0 {
		return false
	}
	rest := strings.TrimLeft(line[i+1:], " ")
	j := strings.IndexByte(rest, ' ')
	return j >= 0 && strings.HasSuffix(rest[:j+1], suffix)
}

// parseSocket reads "sl local rem st tx_queue:rx_queue tr:when retrnsmt
// uid timeout inode ...".
func parseSocket(line string) (Socket, bool) {
	var s Socket
	f := strings.Fields(line)
	if len(f) < 10 {
		return s, false
	}
	var ok1, ok2 bool
	s.Local, s.LocalPort, ok1 = parseAddr(f[1])
	s.Remote, s.RemotePort, ok2 = parseAddr(f[2])
	st, err := strconv.ParseUint(f[3], 16, 8)
	tx, _, ok3 := strings.Cut(f[4], ":")
	sendQ, err2 := strconv.ParseInt(tx, 16, 64)
	if !ok1 || !ok2 || !ok3 || err != nil || err2 != nil {
		return s, false
	}
	s.State, s.SendQ, s.Inode = int(st), sendQ, f[9]
	return s, true
}

// parseAddr reads "0100007F:1F90": the address as 32-bit words in the
// kernel's byte order (little-endian here), then the port in hex.
func parseAddr(a string) (netip.Addr, int, bool) {
	h, p, ok := strings.Cut(a, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	raw, err2 := hex.DecodeString(h)
	if !ok || err != nil || err2 != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, false
	}
	for i := 0; i < len(raw); i += 4 { // each word to network order
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return addr.Unmap(), int(port), true
}
