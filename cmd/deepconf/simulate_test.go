package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimulateCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sim.json")
	stdout, stderr, err := execute(newSimulateCmd(), "--experiments", "3", "--instances", "40", "--seed", "2", "--json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"Scenario balanced", "type-I error", "kill rate (nominal 10%)", "vote bias vs fixed-N̄ majority", "default", "paper"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "3/3 experiments done") {
		t.Errorf("progress: %q", stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Experiments int `json:"experiments"`
		Points      []struct {
			Instances int `json:"instances"`
			Rules     []struct {
				Rule  string `json:"rule"`
				Kills *struct {
					Nominal float64 `json:"nominal"`
				} `json:"kills"`
			} `json:"rules"`
		} `json:"points"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Experiments != 3 || len(rep.Points) != 1 || rep.Points[0].Instances != 40 || len(rep.Points[0].Rules) != 2 ||
		rep.Points[0].Rules[0].Kills == nil || rep.Points[0].Rules[0].Kills.Nominal < 0.099 {
		t.Errorf("report %s", b)
	}

	// The power calculator.
	stdout, _, err = execute(newSimulateCmd(), "--power", "--effect", "0.2", "--experiments", "2", "--instances", "30,60", "--scenario", "balanced")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "power") || !strings.Contains(stdout, "tokens / instance") || strings.Count(stdout, "\n") < 6 {
		t.Errorf("power output:\n%s", stdout)
	}

	// Every flag is range-checked.
	for _, args := range [][]string{
		{"--keep", "1.5"}, {"--scenario", "nope"}, {"--rules", "nope"},
		{"--workers", "-1"}, {"--harmful", "1"}, {"--effect", "0.9"}, {"--token-ar", "1"}, {"--lengths", "nope"},
		{"--warmup", "1"}, {"--window", "0"}, {"--max-tokens", "0"}, {"--level", "1"}, {"--spread", "-2"}, {"--dip-rate", "2"},
	} {
		_, _, err := execute(newSimulateCmd(), append(args, "--experiments", "1", "--instances", "20")...)
		if err == nil {
			t.Errorf("%v accepted", args)
			continue
		}
		// The error names the flag (--warmup is --min-traces' older name).
		if want := strings.Replace(args[0], "--warmup", "--min-traces", 1); args[0] != "--rules" && !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %q does not name %s", args, err, want)
		}
	}
	if _, _, err := execute(newSimulateCmd(), "--experiments", "0"); err == nil {
		t.Error("--experiments 0 accepted")
	}
	if _, _, err := execute(newSimulateCmd(), "--instances", "5"); err == nil {
		t.Error("--instances 5 accepted")
	}
}
