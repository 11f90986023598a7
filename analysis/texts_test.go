package analysis

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadTraceTexts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "predictions.jsonl")
	lines := `{"instance_id":"a","traces":["a0","a1"]}

{"instance_id":"b","traces":["b0"],"avg_confidence":NaN}
{"instance_id":"c","traces":["c\u00e90"]}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := ReadTraceTexts(ctx, path, []int{2, 1}, []string{"c", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int][]string{1: {"b0"}, 2: {"cé0"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, tc := range []struct {
		idx  []int
		ids  []string
		want string
	}{
		{[]int{1}, []string{"x"}, `predictions.jsonl:3: instance "b" where "x" was read before`},
		{[]int{5}, []string{"z"}, "3 predictions, fewer than when it was analysed"},
	} {
		if _, err := ReadTraceTexts(ctx, path, tc.idx, tc.ids); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadTraceTexts(%v, %v) = %v, want an error containing %q", tc.idx, tc.ids, err, tc.want)
		}
	}
}
