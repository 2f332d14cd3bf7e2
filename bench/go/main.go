// Go anchors for gocxx's benchmarks: the same work as bench/runtime_bench.cpp and
// bench/errgroup_bench.cpp, done with goroutines, sync.WaitGroup, channels and
// golang.org/x/sync/errgroup.
//
// Build offline against Debian's golang-golang-x-sync-dev (GOPATH mode):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode:$HOME/go GOFLAGS= go build -o gobench .
//
// Run:
//
//	./gobench                         # every case except parked_memory
//	./gobench -case parked_memory     # one case (memory cases want a fresh process)
//	./gobench -case net_echo_memory   # net.go's memory cases: one per process
//	./gobench -case spawn_join,pingpong -reps 9
//
// Output: one JSON document on stdout,
//
//	{"go_version": "...", "gomaxprocs": 2, "results": [
//	  {"name": "spawn_join", "items": 1000000, "reps": 5, "ns_per_item": ...,
//	   "ns_per_item_min": ..., "total_ms": ..., "total_ms_min": ...}, ...]}
//
// ns_per_item and total_ms are medians over -reps runs (after one warm-up run);
// the _min fields are the fastest run. parked_memory reports peak_rss_mb (VmHWM)
// and bytes_per_task = (VmHWM with every goroutine parked - VmRSS before) / N.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

const (
	spawnN    = 1_000_000 // spawn_join, errgroup_spawn_wait*
	pingpongN = 1_000_000 // round trips per run
	skynetN   = 1_000_000 // leaves of the skynet tree
	parkedN   = 1_000_000 // parked goroutines
	cancelN   = 100_000   // goroutines parked on ctx.Done()
)

type result struct {
	Name         string  `json:"name"`
	Items        int     `json:"items"`
	Reps         int     `json:"reps"`
	NsPerItem    float64 `json:"ns_per_item"`
	NsPerItemMin float64 `json:"ns_per_item_min"`
	TotalMs      float64 `json:"total_ms"`
	TotalMsMin   float64 `json:"total_ms_min"`
	PeakRSSMB    float64 `json:"peak_rss_mb,omitempty"`
	BytesPerTask float64 `json:"bytes_per_task,omitempty"`
}

type benchCase struct {
	name  string
	items int
	run   func() time.Duration // one run of the work, timed
}

// ---- cases ----------------------------------------------------------------

func spawnJoin() time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(spawnN)
	for i := 0; i < spawnN; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0)
}

func errgroupSpawnWait(limit int) func() time.Duration {
	return func() time.Duration {
		t0 := time.Now()
		var g errgroup.Group
		if limit > 0 {
			g.SetLimit(limit)
		}
		for i := 0; i < spawnN; i++ {
			g.Go(func() error { return nil })
		}
		if err := g.Wait(); err != nil {
			panic(err)
		}
		return time.Since(t0)
	}
}

func pingpong() time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	t0 := time.Now()
	for i := 0; i < pingpongN; i++ {
		ping <- i
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	<-pong
	return d
}

func skynet(c chan<- int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynetRun() time.Duration {
	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, skynetN, 10)
	sum := <-c
	d := time.Since(t0)
	if want := skynetN * (skynetN - 1) / 2; sum != want {
		panic(fmt.Sprintf("skynet: sum %d, want %d", sum, want))
	}
	return d
}

var errFail = errors.New("fail")

func cancelFanout() time.Duration {
	g, ctx := errgroup.WithContext(context.Background())
	var started sync.WaitGroup
	started.Add(cancelN)
	for i := 0; i < cancelN; i++ {
		g.Go(func() error {
			started.Done()
			<-ctx.Done()
			return ctx.Err()
		})
	}
	started.Wait()
	// Let the last ones get from started.Done() to the park on ctx.Done().
	time.Sleep(10 * time.Millisecond)
	var failedAt int64
	g.Go(func() error {
		atomic.StoreInt64(&failedAt, time.Now().UnixNano())
		return errFail
	})
	if err := g.Wait(); err != errFail {
		panic(fmt.Sprintf("cancel_fanout: Wait returned %v", err))
	}
	return time.Duration(time.Now().UnixNano() - atomic.LoadInt64(&failedAt))
}

// ---- memory ---------------------------------------------------------------

// procStatusKB reads a "Key:   123 kB" line of /proc/self/status.
func procStatusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key+":") {
			fields := strings.Fields(line[len(key)+1:])
			if len(fields) > 0 {
				v, _ := strconv.ParseInt(fields[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func parkedMemory() result {
	runtime.GC()
	before := procStatusKB("VmRSS")
	release := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(parkedN)
	done.Add(parkedN)
	t0 := time.Now()
	for i := 0; i < parkedN; i++ {
		go func() {
			parked.Done()
			<-release
			done.Done()
		}()
	}
	parked.Wait()
	time.Sleep(20 * time.Millisecond) // the last few reach <-release
	spawned := time.Since(t0)
	hwm := procStatusKB("VmHWM")
	close(release)
	done.Wait()
	ms := float64(spawned.Nanoseconds()) / 1e6
	return result{
		Name: "parked_memory", Items: parkedN, Reps: 1,
		NsPerItem: float64(spawned.Nanoseconds()) / parkedN, NsPerItemMin: float64(spawned.Nanoseconds()) / parkedN,
		TotalMs: ms, TotalMsMin: ms,
		PeakRSSMB:    float64(hwm) / 1024,
		BytesPerTask: float64(hwm-before) * 1024 / parkedN,
	}
}

// ---- driver ---------------------------------------------------------------

// extraCases holds the cases of the other files of this package (one file per gocxx
// package: chan.go, sync.go, ...), which append to it from init().
var extraCases []benchCase

func measure(c benchCase, reps int) result {
	c.run() // warm-up: grows the heap and the goroutine free lists
	ds := make([]time.Duration, reps)
	for i := range ds {
		runtime.GC()
		ds[i] = c.run()
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	med := ds[reps/2]
	if reps%2 == 0 {
		med = (ds[reps/2-1] + ds[reps/2]) / 2
	}
	return result{
		Name: c.name, Items: c.items, Reps: reps,
		NsPerItem:    float64(med.Nanoseconds()) / float64(c.items),
		NsPerItemMin: float64(ds[0].Nanoseconds()) / float64(c.items),
		TotalMs:      float64(med.Nanoseconds()) / 1e6,
		TotalMsMin:   float64(ds[0].Nanoseconds()) / 1e6,
	}
}

func main() {
	which := flag.String("case", "", "comma-separated cases to run (default: all but parked_memory)")
	reps := flag.Int("reps", 5, "timed runs per case (the median is reported)")
	list := flag.Bool("list", false, "list the cases and exit")
	flag.Parse()
	if *reps < 1 {
		fmt.Fprintln(os.Stderr, "gobench: -reps must be >= 1")
		os.Exit(2)
	}
	if runNetMemoryCase(*which) { // net.go's memory cases, each in a fresh process
		return
	}

	cases := append([]benchCase{
		{"spawn_join", spawnN, spawnJoin},
		{"errgroup_spawn_wait", spawnN, errgroupSpawnWait(0)},
		{"errgroup_spawn_wait_limit8", spawnN, errgroupSpawnWait(8)},
		{"pingpong", pingpongN, pingpong},
		{"skynet", skynetN, skynetRun},
		{"cancel_fanout", cancelN, cancelFanout},
	}, extraCases...)
	if *list {
		for _, c := range cases {
			fmt.Println(c.name)
		}
		fmt.Println("parked_memory")
		fmt.Println("net_echo_memory")
		fmt.Println("http_get_memory")
		return
	}

	want := map[string]bool{}
	if *which != "" {
		for _, n := range strings.Split(*which, ",") {
			want[strings.TrimSpace(n)] = true
		}
	}
	var results []result
	all := len(want) == 0 // decided once: the loop deletes the names it has run
	for _, c := range cases {
		if all || want[c.name] {
			results = append(results, measure(c, *reps))
			delete(want, c.name)
		}
	}
	if want["parked_memory"] {
		results = append(results, parkedMemory())
		delete(want, "parked_memory")
	}
	for n := range want {
		fmt.Fprintf(os.Stderr, "gobench: unknown case %q\n", n)
		os.Exit(2)
	}

	out := struct {
		GoVersion  string   `json:"go_version"`
		GOMAXPROCS int      `json:"gomaxprocs"`
		Results    []result `json:"results"`
	}{runtime.Version(), runtime.GOMAXPROCS(0), results}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}
