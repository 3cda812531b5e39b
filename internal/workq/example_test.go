package workq_test

import (
	"context"
	"fmt"

	"github.com/pyrehq/pyre/internal/workq"
)

func ExampleQueue() {
	var g workq.Group
	q := workq.New(&g, func(batch []string) {
		for _, s := range batch {
			fmt.Println("write", s)
		}
	}, &workq.Options[string]{
		Limit:   8,
		Cost:    func(s string) int { return len(s) },
		Paused:  true, // Keep items until Resume, as a socket does before its join reply.
		Drained: func() { fmt.Println("drained") },
	})

	fmt.Println(q.Push("hello"))
	fmt.Println(q.Push("world")) // 5 + 5 would pass the Limit of 8.
	fmt.Println(q.Push("!"))
	q.Close()
	fmt.Println(q.Push("late"))
	q.Resume() // Only now does a goroutine start: it writes, then drains.

	g.Close()
	fmt.Println(g.Wait(context.Background()))
	// Output:
	// <nil>
	// workq: queue full
	// <nil>
	// workq: closed
	// write hello
	// write !
	// drained
	// <nil>
}
