package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAdmission: slots and queue are bounded; a waiter gets the slot a
// finished request gives back; a waiter whose context ends leaves the queue.
func TestAdmission(t *testing.T) {
	a := newAdmission(2, 1)
	ctx := context.Background()
	r1, err := a.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := a.acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	waitFor(t, "a waiter", func() bool { return a.queued() == 1 })
	if _, err := a.acquire(ctx); !errors.Is(err, errQueueFull) {
		t.Fatalf("third request: %v, want errQueueFull", err)
	}
	if ra := a.retryAfter(); ra < 1 || ra > 60 {
		t.Errorf("Retry-After %d", ra)
	}
	r1()
	r1() // releasing twice gives back one slot
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if a.running() != 1 || a.queued() != 0 {
		t.Errorf("running %d queued %d, want 1 and 0", a.running(), a.queued())
	}

	// A waiter whose context ends is dropped from the queue.
	b := newAdmission(1, 1)
	rb, _ := b.acquire(ctx)
	defer rb()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
	if b.queued() != 0 {
		t.Error("the expired waiter is still queued")
	}
	// Retry-After grows with the queue and the time requests take.
	c := newAdmission(2, 10)
	c.avg, c.waiting = 10*time.Second, 3
	if ra := c.retryAfter(); ra != 20 {
		t.Errorf("Retry-After %d, want ceil(10 s × 4 / 2) = 20", ra)
	}
	c.avg = time.Hour
	if ra := c.retryAfter(); ra != 60 {
		t.Errorf("Retry-After %d, want the cap of 60", ra)
	}
}
