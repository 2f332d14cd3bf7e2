// sync.go — the Go anchors of gocxx's bench/sync_bench.cpp: the same work, case for
// case (names without BM_), with sync.Mutex, sync.RWMutex, sync.Map, x/sync's
// semaphore.Weighted and singleflight.Group. Appended to extraCases from init().
package main

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"
)

const (
	syncUncontendedN = 10_000_000
	syncOpsN         = 1_000_000
	sfRounds         = 1_000
	sfCallers        = 100
)

type xorshift struct{ s uint64 }

func (x *xorshift) next() uint64 {
	x.s ^= x.s << 13
	x.s ^= x.s >> 7
	x.s ^= x.s << 17
	return x.s
}

// runParties starts body(p) in `parties` goroutines, releases them together and
// returns the time until all have finished.
func runParties(parties int, body func(p int)) time.Duration {
	var wg sync.WaitGroup
	var ready int32
	var start int32
	wg.Add(parties)
	for p := 0; p < parties; p++ {
		go func(p int) {
			defer wg.Done()
			atomic.AddInt32(&ready, 1)
			for atomic.LoadInt32(&start) == 0 {
				runtime.Gosched()
			}
			body(p)
		}(p)
	}
	for atomic.LoadInt32(&ready) < int32(parties) {
		runtime.Gosched()
	}
	t0 := time.Now()
	atomic.StoreInt32(&start, 1)
	wg.Wait()
	return time.Since(t0)
}

func mutexUncontended() time.Duration {
	var m sync.Mutex
	t0 := time.Now()
	for i := 0; i < syncUncontendedN; i++ {
		m.Lock()
		m.Unlock()
	}
	return time.Since(t0)
}

func mutexContended(parties int) func() time.Duration {
	return func() time.Duration {
		var m sync.Mutex
		counter := 0
		d := runParties(parties, func(int) {
			for i := 0; i < syncOpsN/parties; i++ {
				m.Lock()
				counter++
				m.Unlock()
			}
		})
		_ = counter
		return d
	}
}

func rwmutexReadMostly() time.Duration {
	const parties = 8
	var m sync.RWMutex
	var data [16]int64
	var sink int64
	return runParties(parties, func(p int) {
		var local int64
		for i := 0; i < syncOpsN/parties; i++ {
			if i%100 == 0 {
				m.Lock()
				data[i%16]++
				m.Unlock()
			} else {
				m.RLock()
				local += data[(i+p)%16]
				m.RUnlock()
			}
		}
		atomic.AddInt64(&sink, local)
	})
}

func mapMix(loadPercent uint64) func() time.Duration {
	return func() time.Duration {
		const parties = 8
		const keys = 1024
		var m sync.Map
		for k := int64(0); k < keys; k++ {
			m.Store(k, k)
		}
		var sink int64
		return runParties(parties, func(p int) {
			rng := xorshift{0x9E3779B97F4A7C15 * uint64(p+1)}
			var local int64
			for i := 0; i < syncOpsN/parties; i++ {
				r := rng.next()
				k := int64(r % keys)
				if (r>>32)%100 < loadPercent {
					if v, ok := m.Load(k); ok {
						local += v.(int64)
					}
				} else {
					m.Store(k, int64(i))
				}
			}
			atomic.AddInt64(&sink, local)
		})
	}
}

func semaphoreBench() time.Duration {
	const parties = 8
	sem := semaphore.NewWeighted(4)
	ctx := context.Background()
	return runParties(parties, func(int) {
		for i := 0; i < syncOpsN/parties; i++ {
			if err := sem.Acquire(ctx, 1); err != nil {
				panic(err)
			}
			sem.Release(1)
		}
	})
}

func singleflight100() time.Duration {
	var g singleflight.Group
	var sink int64
	t0 := time.Now()
	for round := int64(0); round < sfRounds; round++ {
		var wg sync.WaitGroup
		wg.Add(sfCallers)
		for c := 0; c < sfCallers; c++ {
			go func() {
				defer wg.Done()
				v, _, _ := g.Do("key", func() (interface{}, error) {
					runtime.Gosched() // stay in flight a moment, as a real lookup would
					return round, nil
				})
				atomic.AddInt64(&sink, v.(int64))
			}()
		}
		wg.Wait()
	}
	return time.Since(t0)
}

func init() {
	extraCases = append(extraCases,
		benchCase{"mutex_uncontended", syncUncontendedN, mutexUncontended},
		benchCase{"mutex_contended_2", syncOpsN / 2 * 2, mutexContended(2)},
		benchCase{"mutex_contended_8", syncOpsN / 8 * 8, mutexContended(8)},
		benchCase{"rwmutex_read_mostly", syncOpsN / 8 * 8, rwmutexReadMostly},
		benchCase{"map_load_heavy", syncOpsN / 8 * 8, mapMix(90)},
		benchCase{"map_store_heavy", syncOpsN / 8 * 8, mapMix(10)},
		benchCase{"semaphore", syncOpsN / 8 * 8, semaphoreBench},
		benchCase{"singleflight_100", sfRounds * sfCallers, singleflight100},
	)
}
