// Package jsonline scans the bytes of JSON lines without decoding them: the
// fast paths of packages analysis and sweep cut large fields (per-token
// arrays, texts) out of a line before encoding/json sees the rest.
package jsonline

import "bytes"

// StringEnd returns the index just after the JSON string that starts at
// b[i] (a '"'), or −1 when the string is not terminated. A quote preceded
// by an odd number of backslashes is escaped and does not end the string.
func StringEnd(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}
