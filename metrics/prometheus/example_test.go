package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	pyreprom "github.com/pyrehq/pyre/metrics/prometheus"
	"github.com/pyrehq/pyre/socket"
	"github.com/pyrehq/pyre/telemetry"
)

// Register the collector with a registry, give its hooks to the server,
// and serve the registry at /metrics beside the socket.
func Example() {
	metrics := pyreprom.New(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, collectors.NewGoCollector())

	s, err := socket.New(&socket.Options{Hooks: metrics.Hooks()})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/socket/", s)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	srv := httptest.NewServer(mux) // Or http.ListenAndServe(":4000", mux).
	defer srv.Close()

	_ = s.Broadcast(context.Background(), "room:lobby", "new_msg", map[string]string{"body": "hi"})

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "pyre_broadcasts_total") || strings.HasPrefix(line, "pyre_connections") {
			fmt.Println(line)
		}
	}
	// Output:
	// pyre_broadcasts_total{local="false"} 1
	// pyre_broadcasts_total{local="true"} 0
	// pyre_connections{transport="longpoll"} 0
	// pyre_connections{transport="websocket"} 0
}

// Event names come from clients: list the ones worth a series of their
// own; every other event counts as "other".
func ExampleOptions_handleInEvents() {
	metrics := pyreprom.New(&pyreprom.Options{
		Namespace:      "chat",
		ConstLabels:    prometheus.Labels{"service": "chat"},
		HandleInEvents: []string{"new_msg", "typing"},
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	// What a server given metrics.Hooks() does after two pushes.
	h := metrics.Hooks()
	h.HandleIn(telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: "new_msg", Duration: 20 * time.Microsecond})
	h.HandleIn(telemetry.HandleInEvent{Transport: "websocket", Topic: "room:1", Event: "x-7f3a", Duration: 20 * time.Microsecond})

	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "chat_handle_in_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Printf("%s=%s ", l.GetName(), l.GetValue())
			}
			fmt.Println("pushes:", m.GetHistogram().GetSampleCount())
		}
	}
	// Output:
	// event=new_msg service=chat pushes: 1
	// event=other service=chat pushes: 1
	// event=typing service=chat pushes: 0
}
