// Go anchors for gocxx's channel, select and timer benchmarks (bench/chan_bench.cpp):
// the same work with Go channels, select and time.After. Registered from init() into
// extraCases (see main.go).
package main

import (
	"fmt"
	"time"
)

const (
	chanItemsN  = 1_000_000 // values through a buffered channel / select
	chanBuffer  = 128       // capacity of the buffered channels
	afterTimers = 1_000_000 // timers created and fired
)

// The unbuffered ping-pong anchor is main.go's pingpong (the same Go work serves
// BM_pingpong and BM_chan_pingpong).
func init() {
	extraCases = append(extraCases,
		benchCase{"chan_buffered_1p", chanItemsN, chanBuffered(1)},
		benchCase{"chan_buffered_4p", chanItemsN, chanBuffered(4)},
		benchCase{"select4", chanItemsN, select4},
		benchCase{"after_churn", afterTimers, afterChurn},
	)
}

// producers goroutines send chanItemsN values in all through one buffered channel;
// main receives them.
func chanBuffered(producers int) func() time.Duration {
	return func() time.Duration {
		c := make(chan int64, chanBuffer)
		per := int64(chanItemsN / producers)
		t0 := time.Now()
		for p := 0; p < producers; p++ {
			go func() {
				for i := int64(0); i < per; i++ {
					c <- i
				}
			}()
		}
		var sum int64
		for i := int64(0); i < per*int64(producers); i++ {
			sum += <-c
		}
		d := time.Since(t0)
		if want := int64(producers) * (per * (per - 1) / 2); sum != want {
			panic(fmt.Sprintf("chan_buffered: sum %d, want %d", sum, want))
		}
		return d
	}
}

// Four producers, one buffered channel each; main receives everything with a select
// over the four.
func select4() time.Duration {
	var c [4]chan int64
	for i := range c {
		c[i] = make(chan int64, chanBuffer)
	}
	per := int64(chanItemsN / 4)
	t0 := time.Now()
	for i := range c {
		ch := c[i]
		go func() {
			for j := int64(0); j < per; j++ {
				ch <- j
			}
		}()
	}
	var sum int64
	for i := 0; i < chanItemsN; i++ {
		select {
		case v := <-c[0]:
			sum += v
		case v := <-c[1]:
			sum += v
		case v := <-c[2]:
			sum += v
		case v := <-c[3]:
			sum += v
		}
	}
	d := time.Since(t0)
	if want := 4 * (per * (per - 1) / 2); sum != want {
		panic(fmt.Sprintf("select4: sum %d, want %d", sum, want))
	}
	return d
}

// Create afterTimers timers (time.After(i % 1000 µs)), all pending at once, then
// receive from each.
func afterChurn() time.Duration {
	chans := make([]<-chan time.Time, 0, afterTimers)
	t0 := time.Now()
	for i := 0; i < afterTimers; i++ {
		chans = append(chans, time.After(time.Duration(i%1000)*time.Microsecond))
	}
	for _, c := range chans {
		<-c
	}
	return time.Since(t0)
}
