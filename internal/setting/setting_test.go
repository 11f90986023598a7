package setting

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckerAndRename(t *testing.T) {
	var c Checker
	c.Check(true, "window", 16, "must be ≥ 1")
	c.Check(false, "warmup", 0, "must be ≥ 1")
	c.Compare(false, "budget", 3, "must be ≥", "warmup", 4)
	c.Check(false, "policy", "x", "want deepconf or seed")
	c.Check(false, "top_p", 1.5, "must be in (0, 1]")
	err := c.Err()
	want := "warmup 0: must be ≥ 1\nbudget 3: must be ≥ warmup 4\npolicy \"x\": want deepconf or seed\ntop_p 1.5: must be in (0, 1]"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	flags := map[string]string{"warmup": "--min-traces", "budget": "--max-traces", "top_p": "--top-p"}
	r := Rename(err, func(n string) string {
		if f, ok := flags[n]; ok {
			return f
		}
		return n
	})
	want = "--min-traces 0: must be ≥ 1\n--max-traces 3: must be ≥ --min-traces 4\npolicy \"x\": want deepconf or seed\n--top-p 1.5: must be in (0, 1]"
	if r.Error() != want {
		t.Errorf("renamed:\n%v\nwant\n%s", r, want)
	}
	var se *Error
	if !errors.As(r, &se) || se.Name != "--min-traces" {
		t.Errorf("errors.As on the renamed error: %v", se)
	}
	// The original is untouched.
	if !strings.HasPrefix(err.Error(), "warmup") {
		t.Errorf("Rename changed the original: %v", err)
	}
	if (&Checker{}).Err() != nil || Rename(nil, strings.ToUpper) != nil {
		t.Error("no errors must give nil")
	}
	other := fmt.Errorf("plain")
	if Rename(other, strings.ToUpper) != other {
		t.Error("Rename changed a plain error")
	}
}
