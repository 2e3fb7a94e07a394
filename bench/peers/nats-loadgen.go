// Load generator for NATS JetStream in the peers benchmark (bench/peers.ts), on NATS's own Go
// client (nats.go, the client the NATS server itself is tested with), built by the bench from
// Debian's golang-github-nats-io-go-nats-dev. It takes the C generators' options and prints one
// JSON line in the shape of theirs.
//
//	nats-loadgen produce --bootstrap H:P --topic STREAM --count N --size S [--window 1000] [--rate MSGS_PER_SEC]
//	                     [--max-seconds 0]
//	nats-loadgen consume --bootstrap H:P --topic STREAM --count N [--consumers 1]
//
// produce keeps up to --window asynchronous JetStream publishes (each acknowledged once stored)
// in flight; with --rate each is sent at its slot and timed from the publish call to its
// acknowledgement; with --max-seconds it stops publishing then, short of --count, and reports
// what was stored. produce creates the stream (file storage, one subject named as the stream)
// before its clock starts. consume reads it from its start with an ordered consumer, the
// client's fastest way to read a whole stream.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

type options struct {
	mode, bootstrap, topic    string
	count, size, window, rate int
	maxSeconds, consumers     int
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "nats-loadgen: "+format+"\n", args...)
	os.Exit(1)
}

func parseOptions() options {
	if len(os.Args) < 2 {
		die("usage: nats-loadgen produce|consume [--option value]...")
	}
	o := options{mode: os.Args[1]}
	fs := flag.NewFlagSet(o.mode, flag.ExitOnError)
	fs.StringVar(&o.bootstrap, "bootstrap", "", "")
	fs.StringVar(&o.topic, "topic", "", "")
	fs.IntVar(&o.count, "count", 0, "")
	fs.IntVar(&o.size, "size", 0, "")
	fs.IntVar(&o.window, "window", 1000, "")
	fs.IntVar(&o.rate, "rate", 0, "")
	fs.IntVar(&o.maxSeconds, "max-seconds", 0, "")
	fs.IntVar(&o.consumers, "consumers", 1, "")
	fs.Parse(os.Args[2:])
	if o.bootstrap == "" || o.topic == "" || o.count <= 0 {
		die("--bootstrap, --topic and --count are required")
	}
	if o.consumers != 1 {
		die("--consumers must be 1")
	}
	return o
}

// cpuWindow returns the process's CPU seconds (user, system) used since it was called.
func cpuWindow() func() (float64, float64) {
	var start syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &start)
	return func() (float64, float64) {
		var now syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &now)
		seconds := func(a, b syscall.Timeval) float64 {
			return float64(b.Sec-a.Sec) + float64(b.Usec-a.Usec)/1e6
		}
		return seconds(start.Utime, now.Utime), seconds(start.Stime, now.Stime)
	}
}

func percentiles(samples []float64) map[string]interface{} {
	sort.Float64s(samples)
	at := func(p float64) interface{} {
		if len(samples) == 0 {
			return nil
		}
		return samples[int(math.Min(float64(len(samples)-1), math.Floor(p*float64(len(samples)))))] / 1e3
	}
	return map[string]interface{}{"count": len(samples), "p50": at(0.5), "p99": at(0.99), "p999": at(0.999), "max": at(1)}
}

type inFlight struct {
	future nats.PubAckFuture
	sentAt time.Time
}

func produce(nc *nats.Conn, o options) map[string]interface{} {
	if o.size <= 0 {
		die("--size is required")
	}
	window := o.window
	if o.rate > 0 {
		// Paced: every message goes at its slot, whatever is still in flight.
		window = o.count
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(window))
	if err != nil {
		die("jetstream: %v", err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: o.topic, Subjects: []string{o.topic}, Storage: nats.FileStorage}); err != nil {
		die("add stream %s: %v", o.topic, err)
	}
	payload := make([]byte, o.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	// Acknowledgements come back in publish order: one goroutine takes them as they come.
	pending := make(chan inFlight, window)
	var acked, failed int64
	var firstError atomic.Value
	latencies := make([]float64, 0, o.count)
	var collected sync.WaitGroup
	collected.Add(1)
	go func() {
		defer collected.Done()
		for p := range pending {
			select {
			case <-p.future.Ok():
				latencies = append(latencies, float64(time.Since(p.sentAt).Nanoseconds()))
				atomic.AddInt64(&acked, 1)
			case err := <-p.future.Err():
				if atomic.AddInt64(&failed, 1) == 1 {
					firstError.Store(err.Error())
				}
			}
		}
	}()

	cpu := cpuWindow()
	start := time.Now()
	deadline := time.Duration(math.MaxInt64)
	if o.maxSeconds > 0 {
		deadline = time.Duration(o.maxSeconds) * time.Second
	}
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Second / time.Duration(o.rate)
	}
	for i := 0; i < o.count && time.Since(start) < deadline; i++ {
		if interval > 0 {
			if wait := time.Duration(i)*interval - time.Since(start); wait > 0 {
				time.Sleep(wait)
			}
		}
		sentAt := time.Now()
		future, err := js.PublishAsync(o.topic, payload)
		if err != nil {
			if atomic.AddInt64(&failed, 1) == 1 {
				firstError.Store(err.Error())
			}
			continue
		}
		pending <- inFlight{future, sentAt}
	}
	close(pending)
	collected.Wait()
	seconds := time.Since(start).Seconds()
	user, system := cpu()
	var first interface{}
	if e := firstError.Load(); e != nil {
		first = e
	}
	return map[string]interface{}{
		"mode": "produce", "topic": o.topic, "partitions": 1, "size": o.size, "msgs": acked, "failed": failed, "firstError": first,
		"bytes": acked * int64(o.size), "seconds": seconds, "cpuUserSeconds": user, "cpuSystemSeconds": system, "latencyUs": percentiles(latencies),
	}
}

func consume(nc *nats.Conn, o options) map[string]interface{} {
	js, err := nc.JetStream()
	if err != nil {
		die("jetstream: %v", err)
	}
	var msgs, bytes int64
	done := make(chan struct{})
	cpu := cpuWindow()
	start := time.Now()
	sub, err := js.Subscribe(o.topic, func(m *nats.Msg) {
		bytes += int64(len(m.Data))
		if msgs++; msgs == int64(o.count) {
			close(done)
		}
	}, nats.OrderedConsumer(), nats.DeliverAll())
	if err != nil {
		die("subscribe %s: %v", o.topic, err)
	}
	<-done
	seconds := time.Since(start).Seconds()
	user, system := cpu()
	sub.Unsubscribe()
	return map[string]interface{}{
		"mode": "consume", "topic": o.topic, "partitions": 1, "consumers": 1, "msgs": msgs, "bytes": bytes, "errors": 0,
		"seconds": seconds, "cpuUserSeconds": user, "cpuSystemSeconds": system,
	}
}

func main() {
	o := parseOptions()
	nc, err := nats.Connect("nats://"+o.bootstrap, nats.NoEcho())
	if err != nil {
		die("connect %s: %v", o.bootstrap, err)
	}
	defer nc.Close()
	var result map[string]interface{}
	switch o.mode {
	case "produce":
		result = produce(nc, o)
	case "consume":
		result = consume(nc, o)
	default:
		die("unknown mode %s (produce or consume)", o.mode)
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
}
