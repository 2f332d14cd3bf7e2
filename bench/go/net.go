// net.go — the Go anchors of gocxx's bench/net_bench.cpp: the same work, case for case
// (names without BM_), with goroutines, net and net/http, everything in this process
// over loopback. Timed cases are appended to extraCases from init().
//
//	net_echo   1,000 connections to an echo server (one goroutine per connection on
//	           both sides); once all are connected, every client does 100 round trips
//	           of a 64-byte message (Write 64 bytes, io.ReadFull 64 bytes back). Timed:
//	           from the start signal until every client has done its round trips and
//	           closed its connection (connecting before, and the server's tear-down
//	           after, are not timed). Items: round trips (100,000).
//	http_get   10,000 GETs of a 13-byte body from a net/http Server through an
//	           errgroup with SetLimit(100), each goroutine calling Client.Get and
//	           reading the body. The client's transport is http.DefaultTransport's
//	           clone with MaxIdleConnsPerHost = 100 (the default, 2, would make 98 of
//	           the 100 concurrent requests open a new connection each time); gocxx's
//	           libcurl engine keeps up to 100 idle connections too. Timed: the GETs.
//	           Items: requests.
//
// The memory cases (net_echo_memory, http_get_memory: the same work once, in a fresh
// process: `gobench -case net_echo_memory`) are run by runNetMemoryCase; each reports rss_growth_mb = VmHWM after the case -
// VmRSS before it (after a runtime.GC()), peak_rss_mb = VmHWM and, for echo,
// bytes_per_conn = growth / 1,000 connections — measured as bench/net_bench.cpp does.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

const (
	echoConns      = 1_000
	echoRoundTrips = 100 // per connection
	echoMsg        = 64
	httpRequests   = 10_000
	httpLimit      = 100
	httpBody       = "hello, world\n"
)

func init() {
	extraCases = append(extraCases,
		benchCase{"net_echo", echoConns * echoRoundTrips, mustRun(echoRun)},
		benchCase{"http_get", httpRequests, mustRun(httpRun)},
	)
}

func mustRun(run func() (time.Duration, error)) func() time.Duration {
	return func() time.Duration {
		d, err := run()
		if err != nil {
			panic(err)
		}
		return d
	}
}

// echoRun: listen, accept with one goroutine per connection, connect echoConns
// client goroutines, release them together, time the round trips, tear down.
func echoRun() (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()

	var servers sync.WaitGroup // the accept loop and every server connection goroutine
	servers.Add(1)
	go func() {
		defer servers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed below
			}
			servers.Add(1)
			go func() {
				defer servers.Done()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break // io.EOF: the client is done
					}
				}
				c.Close()
			}()
		}
	}()

	var failures int32
	var connected, clients sync.WaitGroup
	start := make(chan struct{})
	connected.Add(echoConns)
	clients.Add(echoConns)
	for i := 0; i < echoConns; i++ {
		go func() {
			defer clients.Done()
			c, err := net.Dial("tcp", addr)
			connected.Done()
			<-start
			if err != nil {
				atomic.AddInt32(&failures, 1)
				return
			}
			out := make([]byte, echoMsg)
			in := make([]byte, echoMsg)
			for k := range out {
				out[k] = 'x'
			}
			for k := 0; k < echoRoundTrips; k++ {
				if _, err := c.Write(out); err != nil {
					atomic.AddInt32(&failures, 1)
					break
				}
				if _, err := io.ReadFull(c, in); err != nil {
					atomic.AddInt32(&failures, 1)
					break
				}
			}
			c.Close()
		}()
	}
	connected.Wait()
	t0 := time.Now()
	close(start)
	clients.Wait()
	d := time.Since(t0)
	ln.Close()
	servers.Wait()
	if f := atomic.LoadInt32(&failures); f != 0 {
		return 0, fmt.Errorf("net_echo: %d connections failed", f)
	}
	return d, nil
}

// httpRun: a server on 127.0.0.1:0, then httpRequests GETs through an errgroup
// limited to httpLimit goroutines.
func httpRun() (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, httpBody)
	})
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(served)
	}()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = httpLimit // reuse a connection per concurrent request
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/"

	t0 := time.Now()
	var g errgroup.Group
	g.SetLimit(httpLimit)
	for i := 0; i < httpRequests; i++ {
		g.Go(func() error {
			resp, err := client.Get(url)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || string(body) != httpBody {
				return fmt.Errorf("unexpected response: %s", resp.Status)
			}
			return nil
		})
	}
	err = g.Wait()
	d := time.Since(t0)
	tr.CloseIdleConnections()
	srv.Close()
	<-served
	return d, err
}

// ---- memory (fresh process each) ---------------------------------------------------

// netMemoryResult: main.go's result fields plus the memory figures.
type netMemoryResult struct {
	result
	RSSGrowthMB  float64 `json:"rss_growth_mb"`
	BytesPerConn float64 `json:"bytes_per_conn,omitempty"`
}

// runNetMemoryCase runs the memory case `name` (net_echo_memory, http_get_memory),
// writes a JSON document in main.go's format (go_version, gomaxprocs, results) to
// stdout and returns true; returns false for any other name. Meant for a fresh
// process: main() calls it first for `gobench -case NAME`.
func runNetMemoryCase(name string) bool {
	var r netMemoryResult
	switch name {
	case "net_echo_memory":
		r = netMemory(name, echoRun, echoConns*echoRoundTrips, echoConns)
	case "http_get_memory":
		r = netMemory(name, httpRun, httpRequests, 0)
	default:
		return false
	}
	out := struct {
		GoVersion  string            `json:"go_version"`
		GOMAXPROCS int               `json:"gomaxprocs"`
		Results    []netMemoryResult `json:"results"`
	}{runtime.Version(), runtime.GOMAXPROCS(0), []netMemoryResult{r}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
	return true
}

// netMemory runs `run` once and reports its time and rss_growth_mb = VmHWM after -
// VmRSS before, peak_rss_mb and, when conns > 0, bytes_per_conn = growth / conns.
func netMemory(name string, run func() (time.Duration, error), items, conns int) netMemoryResult {
	runtime.GC()
	before := procStatusKB("VmRSS")
	d, err := run()
	hwm := procStatusKB("VmHWM")
	if err != nil {
		panic(err)
	}
	ms := float64(d.Nanoseconds()) / 1e6
	r := netMemoryResult{
		result: result{
			Name: name, Items: items, Reps: 1,
			NsPerItem: float64(d.Nanoseconds()) / float64(items), NsPerItemMin: float64(d.Nanoseconds()) / float64(items),
			TotalMs: ms, TotalMsMin: ms,
			PeakRSSMB: float64(hwm) / 1024,
		},
		RSSGrowthMB: float64(hwm-before) / 1024,
	}
	if conns > 0 {
		r.BytesPerConn = float64(hwm-before) * 1024 / float64(conns)
	}
	return r
}
