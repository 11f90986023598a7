package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine/openai"
	"github.com/spf13/pflag"
)

// TestOpenEngineHangingServer is the hanging-server case of the commands
// that open an engine from engineFlags (run, generate, bench, the judge):
// the engine does not open, and the error names the timeout.
func TestOpenEngineHangingServer(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	srv := hangingServer(t, true)
	f := engineFlags{Model: defaultModel, Endpoints: []string{srv.URL + "/v1"}, APIMode: "chat", Parallel: 2,
		Timeouts: serverTimeouts{Connect: 5 * time.Second, FirstByte: time.Second, Idle: time.Second}}
	e, err := f.openEngine(context.Background(), 5, 64, io.Discard)
	if err == nil {
		e.Close()
		t.Fatal("no error")
	}
	for _, w := range []string{srv.URL, "POST /v1/chat/completions: first-byte timeout", "in 1s", "--first-byte-timeout"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestServerTimeoutFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for valid
	}{
		{nil, ""},
		{[]string{"--connect-timeout", "1s", "--first-byte-timeout", "24h", "--idle-timeout", "90s"}, ""},
		{[]string{"--connect-timeout", "0s"}, "--connect-timeout 0s: must be in [1s, 10m0s]"},
		{[]string{"--connect-timeout", "11m"}, "--connect-timeout 11m0s: must be in [1s, 10m0s]"},
		{[]string{"--first-byte-timeout", "-1s"}, "--first-byte-timeout -1s: must be in [1s, 24h0m0s]"},
		{[]string{"--idle-timeout", "999ms"}, "--idle-timeout 999ms: must be in [1s, 24h0m0s]"},
	}
	for _, tt := range tests {
		var f engineFlags
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		var cfg openai.Config
		err := f.Timeouts.apply(&cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want):
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		case tt.want == "" && (cfg.ConnectTimeout != f.Timeouts.Connect || cfg.FirstByteTimeout != f.Timeouts.FirstByte || cfg.IdleTimeout != f.Timeouts.Idle):
			t.Errorf("%v: config %v %v %v", tt.args, cfg.ConnectTimeout, cfg.FirstByteTimeout, cfg.IdleTimeout)
		}
	}
	// The defaults are the engine's.
	var f engineFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.register(fs)
	if f.Timeouts != (serverTimeouts{openai.DefaultConnectTimeout, openai.DefaultFirstByteTimeout, openai.DefaultIdleTimeout}) {
		t.Errorf("defaults %+v", f.Timeouts)
	}
}
