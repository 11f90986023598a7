package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/refusal"
)

// This file holds the call behind deepconf serve: the gate built from its
// flags, the settings proven before the model is loaded, and the server
// started on its address. The settings mirror the command's flags, and the
// errors name them.

// GateOptions describe the confidence gate as deepconf serve's flags give
// it: --gate (Mode), --gate-from (From), --gate-threshold (Threshold, with
// ThresholdSet when it was given) and --gate-message (Message).
type GateOptions struct {
	Mode         string
	From         string
	Threshold    float64
	ThresholdSet bool
	Message      string
}

// NewGate builds the gate o describes: off (Mode "" or GateOff, without a
// threshold), or flag or refuse with the threshold of exactly one of From
// (GateFromRun) and Threshold.
func NewGate(o GateOptions) (Gate, error) {
	if o.Mode == "" {
		o.Mode = GateOff
	}
	g := Gate{Mode: o.Mode, Message: o.Message}
	from, num := o.From != "", o.ThresholdSet
	switch {
	case o.Mode == GateOff:
		if from || num {
			return g, errors.New("--gate-from and --gate-threshold need --gate flag or --gate refuse")
		}
		return g, nil
	case o.Mode != GateFlag && o.Mode != GateRefuse:
		return g, fmt.Errorf("--gate %q: want off, flag or refuse", o.Mode)
	case from == num:
		return g, fmt.Errorf("--gate %s needs a threshold: --gate-from RUN_DIR or --gate-threshold X (one of them)", o.Mode)
	case num:
		if math.IsNaN(o.Threshold) || math.IsInf(o.Threshold, 0) {
			return g, fmt.Errorf("--gate-threshold %v: want a finite number", o.Threshold)
		}
		g.Threshold, g.Source = o.Threshold, "--gate-threshold"
		return g, g.Validate()
	}
	th, scale, source, err := GateFromRun(o.From)
	if err != nil {
		return g, fmt.Errorf("--gate-from: %w", err)
	}
	g.Threshold, g.Source, g.Scale = th, source, &scale
	return g, g.Validate()
}

// Config describes the server Run starts.
type Config struct {
	// Server holds the server's options except what Run fills in: the
	// Engine and Detector (opened by OpenEngine and OpenDetector), the
	// Gate (from Gate), the GateLog (from GateLog), Log and EngineStats.
	// A negative MaxQueue is 4 × MaxRunning.
	Server Options
	// Gate is the confidence gate.
	Gate GateOptions
	// GateLog is the file the gated decisions are appended to ("" or "-":
	// Stderr).
	GateLog string
	// OpenEngine opens the engine for the server's policy (its k and its
	// longest trace); Run closes it.
	OpenEngine func(ctx context.Context, policy controller.Config) (engine.Engine, error)
	// OpenDetector opens the refusal detector and returns a function that
	// releases it (nil: nothing to release).
	OpenDetector func(ctx context.Context) (refusal.Detector, func() error, error)
	// Listen is the address to listen on (host:port); Drain how long the
	// requests in flight may take once ctx ends.
	Listen string
	Drain  time.Duration
	// Stderr receives the start-up lines, the server's log and, by
	// default, the gate log.
	Stderr io.Writer
}

// Run serves c until ctx ends, then drains (Server.Serve). It proves the
// settings first (the address, the policy, the gate), then opens the
// engine and the detector, listens, warns when it listens beyond loopback
// without an API key, and writes a line saying what it serves.
func Run(ctx context.Context, c Config) error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8080): %w", c.Listen, err)
	}
	if c.Stderr == nil {
		c.Stderr = io.Discard
	}
	opts := c.Server
	if opts.Policy == nil {
		return errors.New("serve: no policy function")
	}
	base, err := opts.Policy(nil)
	if err != nil {
		return err
	}
	if opts.Gate, err = NewGate(c.Gate); err != nil {
		return err
	}
	if opts.MaxQueue < 0 {
		opts.MaxQueue = 4 * opts.MaxRunning
	}
	eng, err := c.OpenEngine(ctx, base.Config)
	if err != nil {
		return err
	}
	defer eng.Close()
	det, release, err := c.OpenDetector(ctx)
	if err != nil {
		return err
	}
	if release != nil {
		defer release()
	}
	if opts.Gate.Mode != GateOff {
		opts.GateLog = c.Stderr
		if c.GateLog != "" && c.GateLog != "-" {
			fh, err := os.OpenFile(c.GateLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("--gate-log: %w", err)
			}
			defer fh.Close()
			opts.GateLog = fh
		}
	}
	opts.Engine, opts.Detector = eng, det
	opts.Log = slog.New(slog.NewTextHandler(c.Stderr, nil))
	if le, ok := eng.(*llamacpp.Engine); ok {
		opts.EngineStats = func() EngineStats {
			st := le.Stats()
			return EngineStats{Steps: st.Steps, Tokens: st.Tokens}
		}
	}
	srv, err := New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if host, _, _ := net.SplitHostPort(c.Listen); opts.APIKey == "" && !isLoopback(host) {
		fmt.Fprintf(c.Stderr, "deepconf: WARNING: listening on %s without --api-key: anyone who can reach it can use the model\n", c.Listen)
	}
	fmt.Fprintf(c.Stderr, "deepconf: serving %q on http://%s/v1 (policy %s, up to %d traces, %d running + %d queued requests, gate %s)\n",
		opts.Model, ln.Addr(), base.Config.Policy, base.MaxTraces, opts.MaxRunning, opts.MaxQueue, opts.Gate.Mode)
	return srv.Serve(ctx, ln, c.Drain)
}

// isLoopback reports whether host names only loopback addresses.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
