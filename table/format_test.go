package table

import (
	"math"
	"testing"
)

type float float64

func TestFormats(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct{ got, want string }{
		{Num(0.75, 3), "0.750"},
		{Num(2.0/3, 2), "0.67"},
		{Num(float(0.5), 1), "0.5"},
		{Num(nan, 3), "–"},
		{Num(inf, 3), "∞"},
		{Num(-inf, 3), "−∞"},
		{G(12.3456), "12.35"},
		{G(0.000123456), "0.0001235"},
		{G(1.5e6), "1.5e+06"},
		{G(nan), "–"},
		{G(-inf), "−∞"},
		{CI(0.1234, 0.9), "[0.123, 0.900]"},
		{CI(nan, 0.9), "–"},
		{CI(float(0), float(1)), "[0.000, 1.000]"},
		{P(0.0004), "< 0.001"},
		{P(0.001), "0.001"},
		{P(0.04567), "0.046"},
		{P(nan), "–"},
		{Level(0.95), "95%"},
		{Level(0.999), "99.9%"},
		{Count(3, 7), "3/7"},
		{YesNo(true), "yes"},
		{YesNo(false), ""},
		{CSVFloat(0.1), "0.1"},
		{CSVFloat(1.0 / 3), "0.3333333333333333"},
		{CSVFloat(1e-7), "1e-07"},
		{CSVFloat(nan), "NaN"},
		{CSVFloat(inf), "inf"},
		{CSVFloat(float(-inf)), "-inf"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}
