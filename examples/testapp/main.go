// Command testapp is the reference test app (examples/testapp/README.md):
// the server that Pyre's interop tests, the conformance suite and the
// benchmarks talk to. With -pubsub and -node, several testapps form a
// cluster.
//
//	cd examples && go run ./testapp -addr 127.0.0.1:4000
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pyrehq/pyre/examples/internal/broker"
	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/telemetry"
)

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:4000", "listen address")
	debug := flag.Bool("debug", false, "log at debug level")
	pprof := flag.Bool("pprof", false, "serve net/http/pprof under /debug/pprof/ (for benchmarks)")
	pubsubURL := flag.String("pubsub", "", "join a cluster through redis://HOST:PORT[/DB] or nats://HOST:PORT (default: this node alone)")
	node := flag.String("node", "", "this node's name in the cluster (default: a random name)")
	secret := flag.String("secret", "", "long-poll token secret, the same on every node of a cluster (default: random)")
	metrics := flag.Bool("metrics", false, "install the Prometheus collector on every socket and serve it at /metrics (for benchmarks)")
	flag.DurationVar(&presenceWindow, "presencewindow", 0, "the presence tracker's DiffWindow: how long a topic's changes are gathered into one presence_diff (0: the default; negative: none; for benchmarks)")
	flag.Parse()
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	startCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	ps, err := broker.New(startCtx, *pubsubURL, *node, logger)
	cancel()
	if err != nil {
		return err
	}
	var hooks *telemetry.Hooks
	var handler http.Handler
	var reg *prometheus.Registry
	if *metrics {
		collector := pyreprom.New(nil)
		reg = prometheus.NewRegistry()
		reg.MustRegister(collector)
		hooks = collector.Hooks()
		handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	app, err := NewApp(ps, []byte(*secret), logger, hooks)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if handler != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", handler)
		mux.Handle("/", app)
		handler = mux
	} else {
		handler = app
	}
	if *pprof {
		handler = withPprof(handler)
	}
	// Idle keep-alive connections (phoenix.js long-poll publishes) close
	// after 60 s, as Cowboy's do.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	srv.RegisterOnShutdown(func() { _ = app.Shutdown(context.Background()) })
	fmt.Printf("listening on http://%s\n", l.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case sig := <-sigs:
		logger.Info("shutting down", "signal", sig.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = app.Shutdown(ctx)
	if reg != nil {
		// What the collector counts as still open: 0 and 0 once every
		// connection and channel has ended, Terminate included.
		logger.Info("open after shutdown", "connections", gaugeSum(reg, "pyre_connections"), "channels", gaugeSum(reg, "pyre_channels"))
	}
	if err2 := srv.Shutdown(ctx); err == nil && !errors.Is(err2, http.ErrServerClosed) {
		err = err2
	}
	return err
}

// gaugeSum is the sum of the gauge name over its labels.
func gaugeSum(reg *prometheus.Registry, name string) float64 {
	families, _ := reg.Gather()
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// withPprof adds the runtime profiles, for profiling the app under load
// (docs/benchmarks.md).
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler()) // memstats, for the benchmarks

	mux.Handle("/", h)
	return mux
}
