package serve

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// errQueueFull is returned by admission.acquire when every running slot is
// taken and the queue is full.
var errQueueFull = errors.New("queue full")

// admission bounds the requests that run at once and the requests that wait
// for a slot. A request beyond both is refused at once (429 with
// Retry-After) rather than left to time out.
//
// A buffered channel is the semaphore: golang.org/x/sync/semaphore would
// need the same waiter count beside it to bound the queue.
type admission struct {
	slots chan struct{} // one element per running request

	mu       sync.Mutex
	waiting  int
	maxQueue int
	// avg is an exponentially weighted mean of how long a request holds
	// its slot, for Retry-After.
	avg time.Duration
}

func newAdmission(running, queue int) *admission {
	return &admission{slots: make(chan struct{}, running), maxQueue: queue}
}

// acquire takes a running slot, waiting in the queue if there is room, and
// returns the function that gives it back. It fails with errQueueFull, or
// ctx's error when ctx ends while waiting.
func (a *admission) acquire(ctx context.Context) (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return a.releaser(), nil
	default:
	}
	a.mu.Lock()
	if a.waiting >= a.maxQueue {
		a.mu.Unlock()
		return nil, errQueueFull
	}
	a.waiting++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.waiting--
		a.mu.Unlock()
	}()
	select {
	case a.slots <- struct{}{}:
		return a.releaser(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) releaser() func() {
	start := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			d := time.Since(start)
			a.mu.Lock()
			if a.avg == 0 {
				a.avg = d
			} else {
				a.avg = (a.avg*7 + d) / 8
			}
			a.mu.Unlock()
			<-a.slots
		})
	}
}

// queued returns the number of waiting requests.
func (a *admission) queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.waiting
}

// running returns the number of requests holding a slot.
func (a *admission) running() int { return len(a.slots) }

// retryAfter estimates in whole seconds (1..60) when a refused request
// could be admitted: the time the queue ahead of it needs to drain.
func (a *admission) retryAfter() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.avg.Seconds() * float64(a.waiting+1) / float64(cap(a.slots))
	return int(min(60, max(1, math.Ceil(s))))
}
