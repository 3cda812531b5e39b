// Command pyrebench is the load tool of docs/benchmarks.md: it measures a
// server that speaks the Phoenix Channels protocol (V2 JSON) and serves
// the test app (examples/testapp), from a separate process over loopback.
//
//	go build -o /tmp/pyrebench ./internal/cmd/pyrebench
//	/tmp/pyrebench conns -url http://127.0.0.1:4000 -n 10000
//
// The commands and their figures are in internal/loadgen's package
// documentation; `pyrebench COMMAND -h` lists a command's flags.
package main

import (
	"os"

	"github.com/pyrehq/pyre/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Run(os.Args[1:], os.Stdout, os.Stderr))
}
