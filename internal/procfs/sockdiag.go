package procfs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"syscall"
)

// SockDiag looks up single TCP sockets with NETLINK_SOCK_DIAG, the
// interface of ss: one exact lookup costs the kernel a hash lookup, where
// /proc/net/tcp formats every socket of the machine (tens of thousands on
// a busy one, tens of milliseconds a reading). Its methods are safe for
// concurrent use.
type SockDiag struct {
	mu  sync.Mutex // Serializes requests on fd.
	fd  int
	seq uint32
	buf [8192]byte
}

// ErrNoSocket says that no socket has the addresses asked for.
var ErrNoSocket = errors.New("procfs: no such socket")

// NewSockDiag opens a NETLINK_SOCK_DIAG socket; it fails where the
// sandbox refuses netlink (read /proc/net/tcp with [Sockets] then).
func NewSockDiag() (*SockDiag, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, sockDiagProtocol)
	if err != nil {
		return nil, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &SockDiag{fd: fd}, nil
}

// Close closes the netlink socket.
func (d *SockDiag) Close() error { return syscall.Close(d.fd) }

const (
	sockDiagProtocol = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgHdrLen      = 16
	diagReqLen       = 56 // struct inet_diag_req_v2
	diagMsgLen       = 72 // struct inet_diag_msg
)

// Lookup returns the TCP socket whose local end is local and whose remote
// end is remote, IPv4 (or, for a socket of an IPv6 listener, its
// v4-mapped IPv6 twin). Only State and SendQ are filled in besides the
// addresses.
func (d *SockDiag) Lookup(local, remote netip.AddrPort) (Socket, error) {
	for _, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		s, err := d.lookup(family, local, remote)
		if !errors.Is(err, ErrNoSocket) {
			return s, err
		}
	}
	return Socket{}, ErrNoSocket
}

func (d *SockDiag) lookup(family uint8, local, remote netip.AddrPort) (Socket, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	var req [nlmsgHdrLen + diagReqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	ne.PutUint32(req[8:], d.seq)
	r := req[nlmsgHdrLen:]
	r[0], r[1] = family, syscall.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	putSockID(r[8:], family, local, remote)
	if err := syscall.Sendto(d.fd, req[:], 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return Socket{}, err
	}
	for {
		n, _, err := syscall.Recvfrom(d.fd, d.buf[:], 0)
		if err != nil {
			return Socket{}, err
		}
		for b := d.buf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(ne.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return Socket{}, errors.New("procfs: short netlink message")
			}
			typ, seq, body := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[nlmsgHdrLen:l]
			b = b[(l+3)&^3:]
			if seq != d.seq {
				continue // an answer to an earlier request
			}
			switch {
			case typ == syscall.NLMSG_ERROR && len(body) >= 4:
				if errno := -int32(ne.Uint32(body)); errno != 0 {
					if syscall.Errno(errno) == syscall.ENOENT {
						return Socket{}, ErrNoSocket
					}
					return Socket{}, syscall.Errno(errno)
				}
			case typ == sockDiagByFamily && len(body) >= diagMsgLen:
				// The kernel's lookup falls back to a listener on the
				// local port: only the connection itself counts.
				if binary.BigEndian.Uint16(body[6:]) != remote.Port() {
					return Socket{}, ErrNoSocket
				}
				return Socket{Local: local.Addr(), Remote: remote.Addr(), LocalPort: int(local.Port()),
					RemotePort: int(remote.Port()), State: int(body[1]), SendQ: int64(ne.Uint32(body[60:]))}, nil
			}
		}
	}
}

// putSockID writes struct inet_diag_sockid: ports and addresses in
// network order, no interface, and INET_DIAG_NOCOOKIE.
func putSockID(b []byte, family uint8, local, remote netip.AddrPort) {
	binary.BigEndian.PutUint16(b[0:], local.Port())
	binary.BigEndian.PutUint16(b[2:], remote.Port())
	addr := func(a netip.Addr) []byte {
		if family == syscall.AF_INET6 {
			s := a.As16() // v4-mapped
			return s[:]
		}
		s := a.As4()
		return s[:]
	}
	copy(b[4:20], addr(local.Addr()))
	copy(b[20:36], addr(remote.Addr()))
	binary.NativeEndian.PutUint32(b[40:], 0xffffffff)
	binary.NativeEndian.PutUint32(b[44:], 0xffffffff)
}
