// Publishing with confirms over amqp091-go, a window of W in flight, then
// consuming: client_bench's workload on amqp091-go.
//
//	amqp091go_confirms amqp://guest:guest@127.0.0.1:5672/%2F --messages 200000 --size 16 --window 256 [--durable]
//
// The library's confirm path: Channel.Confirm, then NotifyPublish with a
// channel of capacity W (it resequences the broker's acks, multiple or not,
// into one Confirmation per publish, in order). One goroutine publishes
// until W are in flight, blocks for one Confirmation, takes every other one
// already there, and tops the window up again. Same queue, properties,
// output lines and consumer (prefetch 1000, one basic.ack per delivery) as
// client_bench. Built offline by bench/client/run.py against Debian's
// golang-github-rabbitmq-amqp091-go-dev (GO111MODULE=off, GOPATH=/usr/share/gocode).
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "amqp091go_confirms: "+format+"\n", a...)
	os.Exit(1)
}

// User + system CPU seconds of this process (all threads) so far.
func cpuSeconds() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: amqp091go_confirms URI [--messages N] [--size B] [--window W] [--durable] [--publish-only]")
		os.Exit(2)
	}
	uri := os.Args[1]
	messages, size, window := 200000, 16, 256
	durable, publishOnly := false, false
	args := os.Args[2:]
	for i := 0; i < len(args); i++ {
		num := func() int {
			if i+1 >= len(args) {
				fail("%s needs a value", args[i])
			}
			i++
			n, err := strconv.Atoi(args[i])
			if err != nil {
				fail("%s: %v", args[i-1], err)
			}
			return n
		}
		switch args[i] {
		case "--durable":
			durable = true
		case "--publish-only": // for profiling the publish phase alone
			publishOnly = true
		case "--messages":
			messages = num()
		case "--size":
			size = num()
		case "--window":
			window = num()
		default:
			fail("unknown argument %s", args[i])
		}
	}
	if window < 1 {
		fail("--window must be at least 1")
	}

	// frame_max 131072 as src/client and rabbitmq-c ask; no heartbeats.
	conn, err := amqp.DialConfig(uri, amqp.Config{FrameSize: 131072, Heartbeat: 0, Locale: "en_US"})
	if err != nil {
		fail("dial: %v", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		fail("channel: %v", err)
	}
	qname := "client-bench"
	if durable {
		qname = "client-bench-durable"
	}
	if _, err := ch.QueueDeclare(qname, durable, false, false, false, nil); err != nil {
		fail("queue.declare: %v", err)
	}
	if _, err := ch.QueuePurge(qname, false); err != nil {
		fail("queue.purge: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		fail("confirm.select: %v", err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, window))

	msg := amqp.Publishing{Body: bytes.Repeat([]byte{'x'}, size)}
	if durable {
		msg.DeliveryMode = amqp.Persistent
	}
	ctx := context.Background()
	published, inFlight, acked, nacked := 0, 0, 0, 0
	settle := func(c amqp.Confirmation, ok bool) {
		if !ok {
			fail("the channel closed with %d confirms outstanding", inFlight)
		}
		inFlight--
		if c.Ack {
			acked++
		} else {
			nacked++
		}
	}
	cpu0 := cpuSeconds()
	t0 := time.Now()
	for published < messages || inFlight > 0 {
		for inFlight < window && published < messages {
			if err := ch.PublishWithContext(ctx, "", qname, false, false, msg); err != nil {
				fail("basic.publish: %v", err)
			}
			published++
			inFlight++
		}
		c, ok := <-confirms
		settle(c, ok)
	drain:
		for {
			select {
			case c, ok := <-confirms:
				settle(c, ok)
			default:
				break drain
			}
		}
	}
	pubS := time.Since(t0).Seconds()
	fmt.Printf("publish: %d messages of %d B, window %d: %.0f msg/s (%d acked, %d not)\n",
		messages, size, window, float64(messages)/pubS, acked, nacked)
	cpu := cpuSeconds() - cpu0
	fmt.Printf("publish cpu: %.3f s, %.2f us/msg\n", cpu, cpu*1e6/float64(messages))
	if publishOnly {
		ch.Close()
		conn.Close()
		return
	}

	// Consume them back: prefetch 1000, one basic.ack per delivery.
	if err := ch.Qos(1000, 0, false); err != nil {
		fail("basic.qos: %v", err)
	}
	deliveries, err := ch.Consume(qname, "", false, false, false, false, nil)
	if err != nil {
		fail("basic.consume: %v", err)
	}
	got := 0
	t0 = time.Now()
	timeout := time.After(60 * time.Second)
consume:
	for got < messages {
		select {
		case d, ok := <-deliveries:
			if !ok {
				break consume
			}
			if err := d.Ack(false); err != nil {
				fail("basic.ack: %v", err)
			}
			got++
		case <-timeout:
			break consume
		}
	}
	conS := time.Since(t0).Seconds()
	fmt.Printf("consume: %d messages: %.0f msg/s\n", got, float64(got)/conS)
	ch.Close()
	conn.Close()
	if got != messages {
		os.Exit(1)
	}
}
