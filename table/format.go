package table

import (
	"math"
	"strconv"
)

// The cell formats: every number in a table goes through one of these, so
// that the same quantity reads the same in every table and format. Rates
// are fractions, as in analysis.json and the CSV exports; an undefined
// value (NaN) is "–".

// Undefined is the cell of an undefined value.
const Undefined = "–"

// Num formats x with digits decimals: "0.750"; NaN is "–", ±Inf "∞" and
// "−∞".
func Num[F ~float64](x F, digits int) string {
	v := float64(x)
	switch {
	case math.IsNaN(v):
		return Undefined
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// G formats a statistic of any magnitude (odds ratio, t, a confidence) with
// four significant digits: "12.35", "0.0001234", "1.5e+06".
func G[F ~float64](x F) string {
	v := float64(x)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Num(x, 0)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// CI formats an interval as "[lo, hi]" with three decimals, "–" when
// either end is undefined.
func CI[F ~float64](lo, hi F) string {
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) {
		return Undefined
	}
	return "[" + Num(lo, 3) + ", " + Num(hi, 3) + "]"
}

// P formats a p-value with three decimals, "< 0.001" below 0.001 and "–"
// when undefined.
func P[F ~float64](p F) string {
	v := float64(p)
	switch {
	case math.IsNaN(v):
		return Undefined
	case v < 0.001:
		return "< 0.001"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// Level formats a confidence level as a percentage: 0.95 is "95%".
func Level(level float64) string {
	return strconv.FormatFloat(100*level, 'g', 4, 64) + "%"
}

// Count formats k of n as "k/n".
func Count(k, n int) string { return strconv.Itoa(k) + "/" + strconv.Itoa(n) }

// YesNo is "yes" for a set flag and "" otherwise (a flag column shows only
// the flagged rows).
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// CSVFloat formats x as a CSV field that pandas reads back exactly: the
// shortest round-trip digits, and "NaN", "inf", "-inf" for the non-finite
// values.
func CSVFloat[F ~float64](x F) string {
	v := float64(x)
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
