module github.com/pyrehq/pyre

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/google/uuid v1.6.0
	go.uber.org/goleak v1.3.0
)
