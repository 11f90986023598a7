// Package pycompat reproduces the Python and NumPy behaviour that deepconf's
// compatibility modes must match bit for bit or byte for byte: the
// floating-point reductions of NumPy and CPython (NumpySum, NumpyMean,
// PySum, Round), numpy.percentile's default "linear" method
// (NumpyPercentile), Python's float repr and json.dump string escaping
// (FloatRepr, JSONString, FormatG), the str methods the prototype's and
// the judges' prompts rely on (Lower, Strip), and datetime.strftime for
// the chat templates' strftime_now (Strftime). The official DeepConf
// code and the Python prototype (docs/prototype.md) are written in Python;
// these are the places where Go's own functions give a different result.
//
// Every expression that must round after a multiplication is written with an
// explicit float64 conversion, which the Go specification guarantees is not
// fused into a fused multiply-add.
//
// Reading JSON that Python wrote (bare NaN and Infinity literals) belongs
// to package jsonline, which parses every JSON-lines file.
package pycompat
