// Command bare is the baseline of docs/benchmarks.md: the leanest server
// on github.com/coder/websocket that speaks enough of the Phoenix
// Channels protocol (V2 JSON) for pyrebench, with the design every Go
// WebSocket server starts from: a reader and a writer goroutine per
// connection, a bounded queue between them, frames decoded with
// encoding/json. What a figure of Pyre's costs beyond bare's is what
// Pyre's features cost.
//
//	go build -o /tmp/bare ./internal/cmd/bare
//	/tmp/bare -addr 127.0.0.1:4200
//
// It serves:
//   - GET /socket/websocket?vsn=2.0.0: no origin check, no compression,
//     read limit 1 MiB, no idle timeout;
//   - heartbeat on "phoenix": an ok reply;
//   - phx_join on bench:* and room:*: an ok reply and nothing else (no
//     user_entered, no joined push, for room:* too); other topics are
//     refused;
//   - echo: an ok reply with the payload; shout: [null,null,topic,"shout",
//     payload] to every subscriber of the topic, the sender too, encoded
//     once; phx_leave: an ok reply;
//   - POST /broadcast?topic=T&event=E with a JSON body; GET /healthz.
//
// A connection whose queue (-queue frames) is full is closed: a
// broadcast never waits for a slow client.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:4200", "listen address")
	queue := flag.Int("queue", 32, "frames a connection's queue holds; a full queue closes the connection")
	flag.Parse()
	if *queue < 1 {
		return errors.New("-queue must be at least 1")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newServer(*queue)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close() // hijacked connections are closed by their readers' exit
	}()
	log.Printf("listening on http://%s", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
