package serve

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/refusal"
)

// TestNewGate: the gate is off without a threshold, or on with exactly one
// threshold, and every refusal names deepconf serve's flag.
func TestNewGate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "analysis.json"), []byte(`{"scoring":"refusal","split":{"method":"median","metric":"confidence","value":11.25,"eligible":4}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"config":{"policy":{"policy":"deepconf","metric":"lowest_group","window":16}}}`), 0o644)
	for _, tc := range []struct {
		name string
		o    GateOptions
		want Gate
		err  string
	}{
		{"off", GateOptions{Mode: GateOff}, Gate{Mode: GateOff}, ""},
		{"zero value", GateOptions{}, Gate{Mode: GateOff}, ""},
		{"number", GateOptions{Mode: GateFlag, Threshold: 2.5, ThresholdSet: true}, Gate{Mode: GateFlag, Threshold: 2.5, Source: "--gate-threshold"}, ""},
		{"zero is a number", GateOptions{Mode: GateRefuse, ThresholdSet: true, Message: "no"}, Gate{Mode: GateRefuse, Source: "--gate-threshold", Message: "no"}, ""},
		{"from a run", GateOptions{Mode: GateFlag, From: dir}, Gate{Mode: GateFlag, Threshold: 11.25}, ""},
		{"unknown mode", GateOptions{Mode: "maybe"}, Gate{}, `--gate "maybe": want off, flag or refuse`},
		{"no threshold", GateOptions{Mode: GateFlag}, Gate{}, "--gate flag needs a threshold: --gate-from RUN_DIR or --gate-threshold X (one of them)"},
		{"two thresholds", GateOptions{Mode: GateFlag, From: dir, ThresholdSet: true}, Gate{}, "(one of them)"},
		{"threshold while off", GateOptions{Mode: GateOff, ThresholdSet: true}, Gate{}, "--gate-from and --gate-threshold need --gate flag or --gate refuse"},
		{"not finite", GateOptions{Mode: GateFlag, Threshold: math.NaN(), ThresholdSet: true}, Gate{}, "--gate-threshold NaN: want a finite number"},
		{"empty message", GateOptions{Mode: GateRefuse, Threshold: 1, ThresholdSet: true, Message: " "}, Gate{}, "gate refusal message is empty"},
		{"no analysis", GateOptions{Mode: GateFlag, From: t.TempDir()}, Gate{}, "--gate-from: gate from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGate(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Mode != tc.want.Mode || g.Threshold != tc.want.Threshold || g.Message != tc.want.Message ||
				tc.o.From == "" && (g.Source != tc.want.Source || g.Scale != nil) ||
				tc.o.From != "" && (g.Scale == nil || g.Scale.Window != 16 || !strings.Contains(g.Source, "analysis.json")) {
				t.Errorf("gate %+v, want %+v", g, tc.want)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "127.8.9.1": true,
		"0.0.0.0": false, "": false, "::": false, "10.0.0.1": false, "example.com": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v", host, got)
		}
	}
}

// runConfig is a Config of Run on the fake engine, with the engine and the
// detector recorded as opened.
func runConfig(e *enginetest.Engine, opened *[]string, stderr *syncBuffer) Config {
	o := testOptions(nil)
	o.Engine, o.Detector = nil, nil
	return Config{
		Server: o, Listen: "127.0.0.1:0", Drain: time.Minute, Stderr: stderr,
		OpenEngine: func(_ context.Context, pc controller.Config) (engine.Engine, error) {
			*opened = append(*opened, "engine")
			if pc.Sampling.MaxTokens != testConfig().Sampling.MaxTokens {
				return nil, errors.New("the engine is not opened for the server's policy")
			}
			return e, nil
		},
		OpenDetector: func(context.Context) (refusal.Detector, func() error, error) {
			*opened = append(*opened, "detector")
			return refusal.Patterns(), func() error { *opened = append(*opened, "released"); return nil }, nil
		},
	}
}

// TestRunRefusesBeforeOpening: a bad address, policy or gate stops Run
// before the engine is opened.
func TestRunRefusesBeforeOpening(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"listen", func(c *Config) { c.Listen = "8080" }, `--listen "8080": want host:port (e.g. 127.0.0.1:8080)`},
		{"policy", func(c *Config) {
			c.Server.Policy = func(map[string]any) (Policy, error) { return Policy{}, errors.New("bad policy") }
		}, "bad policy"},
		{"gate", func(c *Config) { c.Gate = GateOptions{Mode: GateFlag} }, "needs a threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opened []string
			c := runConfig(newEngine(constantReply("ok", 1)), &opened, &syncBuffer{})
			tc.set(&c)
			if err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if len(opened) > 0 {
				t.Errorf("opened %v before refusing", opened)
			}
		})
	}
}

// TestRun serves on a loopback port until the context ends: the start-up
// line says what is served (the queue defaulting to 4 × running), the
// server answers, the gate log is appended to its file, and the detector
// is released.
func TestRun(t *testing.T) {
	var opened []string
	var stderr syncBuffer
	c := runConfig(newEngine(constantReply("Sure, here it is.", 1)), &opened, &stderr)
	c.Server.MaxQueue = -1
	c.Gate = GateOptions{Mode: GateFlag, Threshold: 5, ThresholdSet: true}
	c.GateLog = filepath.Join(t.TempDir(), "gate.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c) }()
	addr := regexp.MustCompile(`on (http://\S+)/v1 `)
	var url string
	waitFor(t, "the start-up line", func() bool {
		m := addr.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	if want := `(policy deepconf, up to 8 traces, 4 running + 16 queued requests, gate flag)`; !strings.Contains(stderr.String(), want) {
		t.Errorf("start-up line lacks %q:\n%s", want, stderr.String())
	}
	if strings.Contains(stderr.String(), "WARNING") {
		t.Errorf("warned on loopback:\n%s", stderr.String())
	}
	resp, b := post(t, ctx, url, chatBody("hello", nil))
	if resp.StatusCode != http.StatusOK || resp.Header.Get(GateHeader) != VerdictLowConfidence {
		t.Errorf("status %d, gate %q: %s", resp.StatusCode, resp.Header.Get(GateHeader), b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(c.GateLog)
	if err != nil || !strings.Contains(string(log), `"verdict":"low_confidence_compliance"`) {
		t.Errorf("gate log %s, %v", log, err)
	}
	if strings.Join(opened, " ") != "engine detector released" {
		t.Errorf("opened %v", opened)
	}
}

// TestRunWarnsBeyondLoopback: without an API key, listening on every
// interface is allowed but warned about.
func TestRunWarnsBeyondLoopback(t *testing.T) {
	var opened []string
	var stderr syncBuffer
	c := runConfig(newEngine(constantReply("ok", 1)), &opened, &stderr)
	c.Listen = "0.0.0.0:0"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c) }()
	waitFor(t, "the start-up line", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run ended: %v\n%s", err, stderr.String())
		default:
		}
		return strings.Contains(stderr.String(), "serving")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "WARNING: listening on 0.0.0.0:0 without --api-key") {
		t.Errorf("no warning:\n%s", stderr.String())
	}
}
