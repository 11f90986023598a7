package pycompat

import (
	"math"
	"strconv"
)

// pairwiseBlock is NumPy's PW_BLOCKSIZE
// (numpy/_core/src/umath/loops_utils.h.src).
const pairwiseBlock = 128

// NumpySum returns np.sum(x) for a contiguous float64 array: NumPy starts
// the reduction from the identity 0.0 and adds the pairwise sum of all
// elements (DOUBLE_pairwise_sum: plain loop below 8 elements, 8 interleaved
// accumulators up to 128, recursive halving on multiples of 8 above).
//
// NumPy hands the whole array to one inner-loop call when it needs no
// buffering; arrays longer than NumPy's buffer size (8192) may be reduced in
// chunks by some NumPy versions, which can change the last bit.
func NumpySum(x []float64) float64 {
	return 0.0 + pairwiseSum(x)
}

func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= pairwiseBlock:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			r[0] += a[i+0]
			r[1] += a[i+1]
			r[2] += a[i+2]
			r[3] += a[i+3]
			r[4] += a[i+4]
			r[5] += a[i+5]
			r[6] += a[i+6]
			r[7] += a[i+7]
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// NumpyMean returns np.mean(x): NumpySum(x) divided by len(x). Like NumPy it
// returns NaN for an empty slice (NumPy also warns).
func NumpyMean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return NumpySum(x) / float64(len(x))
}

// PySum returns CPython's builtin sum(x) for a list of floats with the
// default start 0, as implemented since Python 3.12 (the version the DeepConf
// paper pins, App. G.1): the first element is added to the int 0, the rest
// are accumulated with Neumaier's compensated summation, and the
// compensation is added at the end when it is non-zero and finite
// (Python/bltinmodule.c, builtin_sum_impl). Python 3.11 and older sum
// sequentially without compensation.
func PySum(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0 + x[0]
	c := 0.0
	for _, v := range x[1:] {
		t := s + v
		if math.Abs(s) >= math.Abs(v) {
			c += (s - t) + v
		} else {
			c += (v - t) + s
		}
		s = t
	}
	if c != 0 && !math.IsInf(c, 0) && !math.IsNaN(c) {
		s += c
	}
	return s
}

// Round returns Python's round(x, 3) for a float: the float nearest to the
// correctly rounded 3-decimal value of x, with exact decimal ties going to
// the even digit (CPython float.__round__ via _Py_dg_dtoa). Non-finite
// values are returned unchanged, as in Python.
//
// Fast path: when x·1000 is far from a half-integer (its rounding error is
// below 2^-23 for |x·1000| < 2^29), the decimal d = round(x·1000) is
// unambiguous and d/1000, a correctly rounded IEEE division, is the float
// nearest to it, as Python's result. Otherwise strconv, which rounds the
// exact binary value like _Py_dg_dtoa, decides. Round does not allocate.
func Round(x float64) float64 {
	y := float64(x * 1000)
	if math.Abs(y) < 1<<29 {
		if f := y - math.Floor(y); math.Abs(f-0.5) > 1e-6 {
			return math.Round(y) / 1000
		}
	}
	return roundSlow(x)
}

// roundSlow is Round by decimal formatting.
func roundSlow(x float64) float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	if math.Abs(x) >= 1<<52 {
		// Every float64 of this magnitude is an integer.
		return x
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], x, 'f', 3, 64)
	r, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		// AppendFloat output of a finite float always parses.
		panic("pycompat: reparse " + string(b) + ": " + err.Error())
	}
	return r
}
