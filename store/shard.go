package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is shard I of N of a run: the instances at positions I, I + N,
// I + 2N, … of the benchmark. The zero Shard (N 0) is a run without
// shards.
type Shard struct{ I, N int }

// ParseShard parses "i/n" (0 ≤ i < n); "" is the whole run.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%q: want i/n with 0 ≤ i < n", s)
	}
	return Shard{I: i, N: n}, nil
}

// Whole reports whether s is the zero Shard, a run without shards.
func (s Shard) Whole() bool { return s.N == 0 }

// String formats s as "i/n", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Whole() {
		return ""
	}
	return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N)
}

// Has reports whether the benchmark position pos is in the shard.
func (s Shard) Has(pos int) bool { return s.Whole() || pos%s.N == s.I }
