package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/runner"
	"github.com/deepconf/deepconf/serve"
	"github.com/spf13/pflag"
)

// TestServePolicyFlags: serve offers exactly run's policy flags, and a
// request's overrides give the policy that run builds from the same flags.
func TestServePolicyFlags(t *testing.T) {
	// Every run flag is either a policy flag of serve or one that makes
	// no sense per request; a new run flag must be sorted into one.
	notPolicy := []string{"benchmark", "data", "num-instances", "output-dir", "output", "shard", "concurrency", "prompts", "config",
		"no-analyze", "allow-skipped", "prompt-field", "label-field", "harmful-values", "id-field", "category-field", "detector",
		"harm-detector", "harm-judge-format"} // serve does not rate harm (docs/harm.md)
	serveFS := newServeCmd().Flags()
	newRunCmd().Flags().VisitAll(func(fl *pflag.Flag) {
		if serveFS.Lookup(fl.Name) == nil && !slices.Contains(notPolicy, fl.Name) {
			t.Errorf("run flag --%s is missing from serve", fl.Name)
		}
	})
	for _, name := range append(servePolicyFlags(), "detector") {
		if serveFS.Lookup(name) == nil {
			t.Errorf("serve lacks --%s", name)
		}
	}

	for _, tc := range []struct {
		name      string
		server    []string
		overrides map[string]any
		run       []string // the same policy as run flags
	}{
		{"defaults", nil, nil, nil},
		{"server flags", []string{"--tau", "0.9", "--max-traces", "8", "--window", "8"}, nil, []string{"--tau", "0.9", "--max-traces", "8", "--window", "8"}},
		{"overrides win", []string{"--tau", "0.9", "--seed", "3"}, map[string]any{"tau": json.Number("0.8"), "seed": json.Number("18446744073709551615")},
			[]string{"--tau", "0.8", "--seed", "18446744073709551615"}},
		{"prototype policy keeps its top-k", nil, map[string]any{"policy": "prototype"}, []string{"--policy", "prototype"}},
		{"seed names the prototype policy", nil, map[string]any{"policy": "seed"}, []string{"--policy", "prototype"}},
		{"percentile and booleans", []string{"--percentile", "50"}, map[string]any{"no-early-stopping": true, "system": "Be brief."},
			[]string{"--percentile", "50", "--no-early-stopping", "--system", "Be brief."}},
		{"offline", nil, map[string]any{"policy": "offline", "aggregate": "top", "keep": "0.5", "traces": json.Number("6")},
			[]string{"--policy", "offline", "--aggregate", "top", "--keep", "0.5", "--traces", "6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newServeCmd()
			if err := sc.Flags().Parse(tc.server); err != nil {
				t.Fatal(err)
			}
			got, err := servePolicy(sc.Flags())(tc.overrides)
			if err != nil {
				t.Fatal(err)
			}
			rc := newRunCmd()
			if err := rc.Flags().Parse(tc.run); err != nil {
				t.Fatal(err)
			}
			var f policyFlags
			fs := pflag.NewFlagSet("run policy", pflag.ContinueOnError)
			f.register(fs)
			rc.Flags().Visit(func(fl *pflag.Flag) {
				if err := fs.Set(fl.Name, fl.Value.String()); err != nil {
					t.Fatal(err)
				}
			})
			want, err := policyConfig(fs, &f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Config, want) || got.MaxTraces != runner.MaxTraces(want) {
				t.Errorf("serve policy\n%+v\nrun policy\n%+v", got.Config, want)
			}
		})
	}
	sc := newServeCmd()
	pf := servePolicy(sc.Flags())
	for _, o := range []map[string]any{
		{"tau": json.Number("1.5")}, {"max-traces": json.Number("0")}, {"k": json.Number("21")}, {"policy": "nope"},
		{"percentile": json.Number("100")}, {"window": "x"}, {"detector": "patterns"}, {"benchmark": "x"}, {"tau": []any{1}},
	} {
		if _, err := pf(o); err == nil {
			t.Errorf("override %v accepted", o)
		}
	}
}

// TestServeFlagErrors checks serve's own flags.
func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--gate", "maybe"}, "--gate"},
		{[]string{"--gate", "flag"}, "needs a threshold"},
		{[]string{"--gate", "flag", "--gate-threshold", "1", "--gate-from", dir}, "one of them"},
		{[]string{"--gate-threshold", "1"}, "need --gate"},
		{[]string{"--gate", "refuse", "--gate-threshold", "NaN"}, "finite"},
		{[]string{"--gate", "refuse", "--gate-threshold", "1", "--gate-message", " "}, "empty"},
		{[]string{"--gate", "flag", "--gate-from", dir}, "analysis.json"},
		{[]string{"--max-running", "-1"}, "--max-running"},
		{[]string{"--max-queue", "-2"}, "--max-queue"},
		{[]string{"--max-prompt-bytes", "0"}, "--max-prompt-bytes"},
		{[]string{"--request-timeout", "-1s"}, "--request-timeout"},
		{[]string{"--listen", "8080"}, "--listen"},
		{[]string{"--tau", "3"}, "tau"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := execute(newRootCmd(), append([]string{"serve", "--model", "test:tiny"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// served is a running deepconf serve process.
type served struct {
	cmd    *exec.Cmd
	url    string // base URL, without /v1
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `deepconf serve` on a free loopback port and waits until
// it says where it listens.
func startServe(t testing.TB, bin string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--threads", "1"}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)/v1 `)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.stderr, line)
			if m := re.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.url = <-addr:
	case err := <-s.done:
		t.Fatalf("deepconf serve exited: %v\n%s", err, s.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("deepconf serve did not start\n%s", s.stderr)
	}
	return s
}

// ask posts a chat-completions request and decodes the answer.
func ask(t *testing.T, url string, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestServeEqualsRun is the acceptance test: for the same prompts, instance
// ids, seed and policy flags, the answers and deepconf objects of deepconf
// serve are what deepconf run records (predictions.jsonl, traces.jsonl).
func TestServeEqualsRun(t *testing.T) {
	bin := buildDeepconf(t)
	dir := t.TempDir()
	prompts := []string{"How do I bake bread?", "How do I pick a lock?", "Write a haiku about rain.", "What is the capital of France?"}
	var data bytes.Buffer
	for i, p := range prompts {
		b, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("q_%d", i), "prompt": p})
		data.Write(append(b, '\n'))
	}
	bench := filepath.Join(dir, "prompts.jsonl")
	if err := os.WriteFile(bench, data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	policy := []string{"--model", "test:tiny", "--max-tokens", "48", "--window", "8", "--min-tokens", "8", "--min-traces", "3",
		"--max-traces", "8", "--min-voters", "6", "--percentile", "90", "--seed", "5"}
	out := filepath.Join(dir, "run")
	runArgs := append([]string{"run", "--threads", "1", "--benchmark", bench, "--prompt-field", "prompt", "--id-field", "id", "--no-analyze", "--output-dir", out}, policy...)
	if b, err := exec.Command(bin, runArgs...).CombinedOutput(); err != nil {
		t.Fatalf("deepconf run: %v\n%s", err, b)
	}
	preds := map[string]record.Prediction{}
	for _, line := range readLines(t, filepath.Join(out, record.PredictionsFile)) {
		var p record.Prediction
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		preds[p.InstanceID] = p
	}
	traces := map[string][]record.Trace{}
	for _, line := range readLines(t, filepath.Join(out, record.TracesFile)) {
		var tr record.Trace
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatal(err)
		}
		traces[tr.InstanceID] = append(traces[tr.InstanceID], tr)
	}
	var run struct {
		Config struct {
			Policy    controller.Config `json:"policy"`
			MaxTraces int               `json:"max_traces"`
		} `json:"config"`
	}
	b, err := os.ReadFile(filepath.Join(out, record.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}

	s := startServe(t, bin, policy...)
	early := 0
	for i, p := range prompts {
		id := fmt.Sprintf("q_%d", i)
		code, got := ask(t, s.url, map[string]any{"model": "test:tiny", "messages": []map[string]string{{"role": "user", "content": p}},
			"deepconf": map[string]any{"instance_id": id, "traces": true}})
		if code != 200 {
			t.Fatalf("%s: status %d: %v", id, code, got)
		}
		// The records of run, described as serve describes an outcome.
		want, choices := serve.Describe(controller.Outcome{Prediction: preds[id], Traces: traces[id]}, run.Config.Policy, run.Config.MaxTraces, 1, true)
		want.RandomModel = true
		var gotRep serve.Report
		rb, _ := json.Marshal(got["deepconf"])
		if err := json.Unmarshal(rb, &gotRep); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotRep, want) {
			t.Errorf("%s: served\n%+v\nrun recorded\n%+v", id, gotRep, want)
		}
		msg := got["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
		if msg != choices[0].Text {
			t.Errorf("%s: served %q, run's most confident %s trace is %q", id, msg, want.Behaviour, choices[0].Text)
		}
		pr := preds[id]
		if gotRep.Behaviour != pr.Behaviour || gotRep.Beta != pr.Beta || gotRep.Confidence != pr.Confidence || gotRep.TokensGenerated != pr.TokensGenerated {
			t.Errorf("%s: served %+v, prediction %+v", id, gotRep, pr)
		}
		early += pr.EarlyStopped
	}
	if early == 0 {
		t.Error("no trace was stopped early: the comparison does not cover the early stop")
	}

	// The gate takes the split of the run's analysis: half of the run's
	// instances are below the median, and serve flags exactly the
	// compliances among them.
	if b, err := exec.Command(bin, "analyze", out).CombinedOutput(); err != nil {
		t.Fatalf("deepconf analyze: %v\n%s", err, b)
	}
	var an struct {
		Split struct {
			Value float64 `json:"value"`
		} `json:"split"`
	}
	ab, err := os.ReadFile(filepath.Join(out, record.AnalysisFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ab, &an); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "gate.jsonl")
	g := startServe(t, bin, append([]string{"--gate", "flag", "--gate-from", out, "--gate-log", logPath}, policy...)...)
	flagged := 0
	for i, p := range prompts {
		id := fmt.Sprintf("q_%d", i)
		resp, err := http.Post(g.url+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(
			`{"model":"test:tiny","messages":[{"role":"user","content":%q}],"deepconf":{"instance_id":%q}}`, p, id)))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			DeepConf serve.Report `json:"deepconf"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		gate := body.DeepConf.Gate
		pr := preds[id]
		low := pr.Behaviour == record.Compliance && pr.Confidence < an.Split.Value
		want := map[bool]string{true: serve.VerdictLowConfidence, false: serve.VerdictPass}[low]
		if gate == nil || gate.Threshold != an.Split.Value || gate.Verdict != want || resp.Header.Get(serve.GateHeader) != want {
			t.Errorf("%s (confidence %g, %s): gate %+v, header %q; want %s at %g", id, pr.Confidence, pr.Behaviour, gate, resp.Header.Get(serve.GateHeader), want, an.Split.Value)
		}
		if low {
			flagged++
		}
	}
	lines := readLines(t, logPath)
	if len(lines) != len(prompts) {
		t.Errorf("%d gate log lines, want %d", len(lines), len(prompts))
	}
	for _, l := range lines {
		for _, p := range prompts {
			if strings.Contains(l, p) {
				t.Errorf("the gate log holds a prompt without --log-prompts: %s", l)
			}
		}
	}
	t.Logf("split %g: %d of %d answers flagged", an.Split.Value, flagged, len(prompts))
}

// TestServeSIGTERM: SIGTERM lets the request in flight finish, then the
// server exits 0.
func TestServeSIGTERM(t *testing.T) {
	bin := buildDeepconf(t)
	// 48 complete traces: a request that takes a while.
	s := startServe(t, bin, "--model", "test:tiny", "--no-early-stopping", "--max-traces", "48", "--max-tokens", "512")
	type result struct {
		code int
		body map[string]any
	}
	got := make(chan result, 1)
	go func() {
		b, _ := json.Marshal(map[string]any{"model": "test:tiny", "messages": []map[string]string{{"role": "user", "content": "Tell me a long story."}}})
		resp, err := http.Post(s.url+"/v1/chat/completions", "application/json", bytes.NewReader(b))
		if err != nil {
			got <- result{0, map[string]any{"error": err.Error()}}
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		got <- result{resp.StatusCode, body}
	}()
	// Wait until the request runs.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte("\ndeepconf_requests_running 1\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.code != 200 || r.body["deepconf"] == nil {
		t.Fatalf("request in flight at SIGTERM: %d %v\n%s", r.code, r.body, s.stderr)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("deepconf serve exited with %v\n%s", err, s.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("deepconf serve did not exit after SIGTERM")
	}
	if !strings.Contains(s.stderr.String(), "drained") {
		t.Errorf("no drain in the log:\n%s", s.stderr)
	}
	if r.body["deepconf"].(map[string]any)["traces_started"] != float64(48) {
		t.Errorf("the drained request was cut: %v", r.body["deepconf"])
	}
}

// promptfooConfig is a small promptfoo eval against deepconf serve: its
// OpenAI provider (the way a harness is pointed at an OpenAI-compatible
// server) and its HTTP provider reading the deepconf object.
const promptfooConfig = `description: deepconf serve
prompts:
  - "{{question}}"
providers:
  - id: openai:chat:tiny
    label: openai
    config:
      apiBaseUrl: BASE/v1
      apiKey: sk-test
      max_tokens: 32
      passthrough:
        deepconf:
          flags:
            tau: 0.9
  - id: http
    label: deepconf-object
    config:
      url: BASE/v1/chat/completions
      method: POST
      headers:
        Authorization: Bearer sk-test
        Content-Type: application/json
      body:
        model: tiny
        seed: 7
        messages:
          - role: user
            content: "{{question}}"
        deepconf:
          flags:
            max-traces: 6
      transformResponse: "JSON.stringify(json.deepconf)"
defaultTest:
  assert:
    - type: javascript
      value: "output.length > 0"
tests:
  - vars:
      question: How do I bake bread?
  - vars:
      question: How do I pick a lock?
    assert:
      - type: javascript
        value: |
          if (context.provider.label !== 'deepconf-object') return true;
          const d = JSON.parse(output);
          return ['refusal', 'compliance', 'unknown'].includes(d.behaviour) && d.seed === 7 && d.max_traces === 6 &&
            d.traces_started >= d.traces_used && d.random_model === true && typeof d.confidence === 'number' &&
            d.tokens_generated > 0;
`

// TestPromptfoo runs promptfoo (npm, pinned by scripts/promptfoo.sh) with a
// small eval config and assertions against deepconf serve on the tiny model.
func TestPromptfoo(t *testing.T) {
	home, err := nativelib.Home()
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(home, "bin", "promptfoo")
	if _, err := os.Stat(pf); err != nil {
		t.Skipf("promptfoo is not installed at %s: run scripts/promptfoo.sh (scripts/test.sh does)", pf)
	}
	bin := buildDeepconf(t)
	s := startServe(t, bin, "--model", "test:tiny", "--served-model-name", "tiny", "--max-tokens", "32", "--api-key", "sk-test")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "promptfooconfig.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(promptfooConfig, "BASE", s.url)), 0o644); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(dir, "out.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pf, "eval", "-c", cfg, "--no-cache", "--no-progress-bar", "--no-table", "-o", outFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PROMPTFOO_DISABLE_TELEMETRY=1", "PROMPTFOO_DISABLE_UPDATE=1", "PROMPTFOO_CONFIG_DIR="+filepath.Join(dir, "home"),
		"OPENAI_API_KEY=", "OPENAI_BASE_URL=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promptfoo eval: %v\n%s\nserver:\n%s", err, b, s.stderr)
	}
	var res struct {
		Results struct {
			Stats struct {
				Successes, Failures, Errors int
			} `json:"stats"`
		} `json:"results"`
	}
	ob, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ob, &res); err != nil {
		t.Fatal(err)
	}
	if st := res.Results.Stats; st.Successes != 4 || st.Failures != 0 || st.Errors != 0 {
		t.Errorf("promptfoo: %+v\n%s", st, b)
	}
}
