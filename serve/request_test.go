package serve

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseBody checks what a valid request turns into.
func TestParseBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		system   string
		user     string
		n        int
		maxTok   int
		flags    map[string]string
		instance string
	}{
		{"plain", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, "", "hi", 1, 0, map[string]string{}, ""},
		{"system and developer joined", `{"model":"m","messages":[{"role":"system","content":"a"},{"role":"developer","content":"b"},{"role":"user","content":"hi"}]}`, "a\n\nb", "hi", 1, 0, map[string]string{}, ""},
		{"parts", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"h"},{"type":"text","text":"i"}]}]}`, "", "hi", 1, 0, map[string]string{}, ""},
		{"seed exact", `{"model":"m","seed":18446744073709551615,"messages":[{"role":"user","content":"hi"}]}`, "", "hi", 1, 0, map[string]string{"seed": "18446744073709551615"}, ""},
		{"flag seed wins", `{"model":"m","seed":3,"deepconf":{"flags":{"seed":4}},"messages":[{"role":"user","content":"hi"}]}`, "", "hi", 1, 0, map[string]string{"seed": "4"}, ""},
		{"smaller max", `{"model":"m","n":2,"max_tokens":50,"max_completion_tokens":40,"messages":[{"role":"user","content":"hi"}]}`, "", "hi", 2, 40, map[string]string{}, ""},
		{"instance and unknown fields", `{"model":"m","temperature":0,"logprobs":true,"user":"u","deepconf":{"instance_id":"x_1"},"messages":[{"role":"user","content":"hi","name":"bob"}]}`, "", "hi", 1, 0, map[string]string{}, "x_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, e := parseBody([]byte(tc.body), "m", 100)
			if e != nil {
				t.Fatal(e)
			}
			if p.system != tc.system || p.user != tc.user || p.n != tc.n || p.requestMaxTokens() != tc.maxTok {
				t.Errorf("got system %q user %q n %d max %d", p.system, p.user, p.n, p.requestMaxTokens())
			}
			flags := map[string]string{}
			for k, v := range p.flags {
				flags[k] = v.(json.Number).String()
			}
			if len(flags) != len(tc.flags) {
				t.Errorf("flags %v, want %v", flags, tc.flags)
			}
			for k, v := range tc.flags {
				if flags[k] != v {
					t.Errorf("flag %s = %q, want %q", k, flags[k], v)
				}
			}
			switch {
			case tc.instance != "" && p.instance != tc.instance:
				t.Errorf("instance %q, want %q", p.instance, tc.instance)
			case tc.instance == "" && (!strings.HasPrefix(p.instance, "chat-") || len(p.instance) != 21):
				t.Errorf("default instance %q", p.instance)
			}
		})
	}
	// The default instance id depends on the system and the user message.
	a, _ := parseBody([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), "m", 100)
	b, _ := parseBody([]byte(`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}`), "m", 100)
	if a.instance == b.instance {
		t.Error("a system message does not change the instance id")
	}
}

// FuzzParseBody: any body is either a request with a user message within
// the limit or a 4xx error, never a panic.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"n":2,"seed":5,"deepconf":{"flags":{"tau":0.9},"traces":true}}`,
		`{"model":"m","messages":[{"role":"assistant","content":null}]}`,
		`{"model":"x"}`, `[]`, `{`, ``, `null`, `{"model":"m","messages":[{"role":"user","content":{"a":1}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, e := parseBody(body, "m", 64)
		if e != nil {
			if e.Status < 400 || e.Status > 499 || e.Message == "" {
				t.Fatalf("error %+v", e)
			}
			return
		}
		if strings.TrimSpace(p.user) == "" || len(p.user)+len(p.system) > 64 || p.n < 1 || p.instance == "" {
			t.Fatalf("accepted %+v", p)
		}
	})
}
