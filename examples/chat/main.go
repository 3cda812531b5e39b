// Command chat is a small chat server whose web page uses the official
// phoenix.js client. Run it from the repository root with `make run`
// (which installs phoenix.js with npm first), then open http://localhost:4000.
// With -pubsub and -node, several chat servers form one chat
// (examples/cluster).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pyrehq/pyre/examples/internal/broker"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	addr := flag.String("addr", "localhost:4000", "listen address")
	static := flag.String("static", "examples/chat/static", "directory of the web page")
	phoenixJS := flag.String("phoenix", "node_modules/phoenix/priv/static/phoenix.mjs", "phoenix.js ES module (installed by npm ci)")
	pubsubURL := flag.String("pubsub", "", "join a cluster through redis://HOST:PORT[/DB] or nats://HOST:PORT (default: this node alone)")
	node := flag.String("node", "", "this node's name in the cluster (default: a random name)")
	secret := flag.String("secret", "", "secret that signs the user tokens, the same on every node of a cluster, at least 20 bytes (default: random)")
	flag.Parse()
	key := []byte(*secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	if _, err := os.Stat(*phoenixJS); err != nil {
		return fmt.Errorf("phoenix.js not found (run `npm ci` at the repository root): %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	startCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	ps, err := broker.New(startCtx, *pubsubURL, *node, logger)
	cancel()
	if err != nil {
		return err
	}
	chat, err := NewChat(ps, logger, key, *static, *phoenixJS)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// Idle keep-alive connections (phoenix.js long-poll publishes) close
	// after 60 s, as Cowboy's do.
	srv := &http.Server{Handler: chat, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	fmt.Printf("listening on http://%s\n", l.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sigs:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = chat.Shutdown(ctx)
	if err2 := srv.Shutdown(ctx); err == nil && !errors.Is(err2, http.ErrServerClosed) {
		err = err2
	}
	return err
}
