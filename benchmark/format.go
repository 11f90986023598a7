package benchmark

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Format is the file format of a benchmark file.
type Format string

// Supported formats. CSV, TSV and JSONL files may be gzip-compressed
// (".gz" suffix).
const (
	// FormatAuto detects the format from the file name's extension.
	FormatAuto Format = ""
	// FormatCSV is comma-separated values with a header row (RFC 4180, as
	// written by pandas and the Hugging Face Hub).
	FormatCSV Format = "csv"
	// FormatTSV is tab-separated values with a header row and CSV quoting.
	FormatTSV Format = "tsv"
	// FormatJSONL is one JSON object per line (Hugging Face
	// Dataset.to_json, pandas to_json(lines=True)).
	FormatJSONL Format = "jsonl"
	// FormatParquet is Apache Parquet; nested and repeated columns are
	// read as map[string]any and []any values.
	FormatParquet Format = "parquet"
)

// ParseFormat converts a format name ("", "auto", "csv", "tsv", "jsonl",
// "ndjson" or "parquet") to a Format.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "csv":
		return FormatCSV, nil
	case "tsv":
		return FormatTSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	case "parquet":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("format %q: want csv, tsv, jsonl or parquet", s)
}

// DetectFormat returns the format of path from its extension (.csv, .tsv,
// .jsonl, .ndjson, .parquet, optionally followed by .gz for the text
// formats).
func DetectFormat(path string) (Format, error) {
	name := strings.ToLower(filepath.Base(path))
	gz := strings.HasSuffix(name, ".gz")
	name = strings.TrimSuffix(name, ".gz")
	var f Format
	switch filepath.Ext(name) {
	case ".csv":
		f = FormatCSV
	case ".tsv":
		f = FormatTSV
	case ".jsonl", ".ndjson":
		f = FormatJSONL
	case ".parquet":
		if !gz {
			f = FormatParquet
		}
	}
	if f == FormatAuto {
		return "", fmt.Errorf("%s: cannot tell the format from the file name; name it .csv, .tsv, .jsonl or .parquet or give the format explicitly", path)
	}
	return f, nil
}

// openText opens a text file, decompressing it when its name ends in .gz.
func openText(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}
