package procfs

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with a space and a parenthesis: fields count from the last ')'.
	stat := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 1000 200\n"
	got, err := ParseStatCPU([]byte(stat))
	if err != nil || got != 3.25 {
		t.Fatalf("ParseStatCPU = %v, %v; want 3.25 (250+75 ticks)", got, err)
	}
	if _, err := ParseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("a short stat line gave no error")
	}
}

func TestStatusField(t *testing.T) {
	t.Parallel()
	status := "Name:\ttestapp\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\nThreads:\t7\n"
	if v, err := StatusField([]byte(status), "VmRSS"); err != nil || v != 12345 {
		t.Fatalf("VmRSS = %d, %v", v, err)
	}
	if v, err := StatusField([]byte(status), "Threads"); err != nil || v != 7 {
		t.Fatalf("Threads = %d, %v", v, err)
	}
	if _, err := StatusField([]byte(status), "VmSwap"); err == nil {
		t.Fatal("a missing key gave no error")
	}
}

func TestParseMachineBusy(t *testing.T) {
	t.Parallel()
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 20 30 5000 400 5 6 7 50 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n"
	got, err := ParseMachineBusy([]byte(stat))
	if err != nil || got != 1.68 { // 100+20+30+5+6+7 ticks
		t.Fatalf("ParseMachineBusy = %v, %v; want 1.68", got, err)
	}
}

func TestParseSockets(t *testing.T) {
	t.Parallel()
	text := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1068 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55501 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1068 0300007F:9C40 04 0001F400:00000000 01:00000014 00000000  1000        0 55502 1 0000000000000000 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 77 1
garbage
`
	got := ParseSockets(text, 0)
	if len(got) != 3 {
		t.Fatalf("%d sockets, want 3: %+v", len(got), got)
	}
	want := []Socket{
		{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("0.0.0.0"), 4200, 0, StateListen, 0, "55501"},
		{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3"), 4200, 40000, 4, 0x1f400, "55502"},
		{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), 8080, 50000, StateEstablished, 0, "77"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("socket %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if only := ParseSockets(text, 4200); len(only) != 2 || only[1] != want[1] {
		t.Errorf("ParseSockets(port 4200) = %+v, want the first two", only)
	}
	if StateName(got[1].State) != "FIN_WAIT1" {
		t.Errorf("StateName(4) = %s", StateName(got[1].State))
	}
}

func TestReadSelf(t *testing.T) {
	t.Parallel()
	s, err := Read(os.Getpid())
	if err != nil || s.RSSKiB <= 0 || s.Threads <= 0 {
		t.Fatalf("Read(self) = %+v, %v", s, err)
	}
	if n, err := OpenFileLimit(os.Getpid()); err != nil || n <= 0 {
		t.Fatalf("OpenFileLimit = %d, %v", n, err)
	}
}

func TestSocketsSeesOwnListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	found := false
	for _, s := range Sockets(port) {
		found = found || (s.State == StateListen && s.LocalPort == port)
	}
	if !found {
		t.Fatalf("no LISTEN socket on port %d in /proc/net/tcp", port)
	}
	// Listener leaves this process out: nobody else listens there.
	if pid := Listener(port); pid != 0 {
		t.Fatalf("Listener(%d) = %d, want 0 (only this process listens)", port, pid)
	}
}

func TestSockDiagLookup(t *testing.T) {
	t.Parallel()
	d, err := NewSockDiag()
	if err != nil {
		t.Fatalf("NewSockDiag: %v (netlink refused here?)", err)
	}
	defer d.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	local := srv.LocalAddr().(*net.TCPAddr).AddrPort()
	remote := c.LocalAddr().(*net.TCPAddr).AddrPort()
	s, err := d.Lookup(local, remote)
	if err != nil || s.State != StateEstablished {
		t.Fatalf("Lookup(server end) = %+v, %v; want ESTABLISHED", s, err)
	}
	other := netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
	if _, err := d.Lookup(local, other); err != ErrNoSocket {
		t.Fatalf("Lookup(no such socket) err = %v, want ErrNoSocket", err)
	}
}
