package offsets_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/kmigrate/kmigrate/internal/offsets"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		format offsets.Format
		want   []offsets.Position
	}{
		{"# stored by the sink\norders 0 1200\n\norders  1\t1180\n", offsets.Lines, []offsets.Position{{"orders", 0, 1200}, {"orders", 1, 1180}}},
		{`{"orders":{"1":7,"0":5},"audit":{"0":-2}}`, offsets.SparkJSON, []offsets.Position{{"orders", 0, 5}, {"orders", 1, 7}}},
		{"v1\n{\"batchWatermarkMs\":0}\n0\n{\"orders\":{\"0\":9}}", offsets.SparkLog, []offsets.Position{{"orders", 0, 9}}},
		{`[{"topic":"orders","partition":2,"offset":3},{"topic":"orders","partition":0,"offset":-1}]`, offsets.List, []offsets.Position{{"orders", 2, 3}}},
	} {
		in, err := offsets.Parse([]byte(tc.in))
		if err != nil || in.Format != tc.format || !slices.Equal(in.Positions, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %s %v", tc.in, in, err, tc.format, tc.want)
		}
	}
	for _, bad := range []string{"", "orders 0", "orders x 1", "orders 0 -5", `{"orders":{"p":1}}`, `{"orders":{"01":1}}`, `[{"topic":"orders","offset":1}]`, "v1\n{}\n0\n", "v2\nx"} {
		if _, err := offsets.Parse([]byte(bad)); !errors.Is(err, offsets.ErrSyntax) {
			t.Errorf("Parse(%q): %v, want ErrSyntax", bad, err)
		}
	}
}

// Rewrite keeps Spark's special negative offsets (under the translated
// topic name), other sources' lines, and refuses a position without a
// final answer.
func TestRewrite(t *testing.T) {
	in, err := offsets.Parse([]byte(`{"orders":{"0":5,"1":-1}}`))
	if err != nil {
		t.Fatal(err)
	}
	a := []offsets.Answer{{From: offsets.Position{Topic: "orders", Offset: 5}, ToTopic: "new.orders", To: 8, Kind: "exact"}}
	out, err := in.Rewrite(a)
	if want := "{\"new.orders\":{\"0\":8,\"1\":-1}}\n"; err != nil || string(out) != want {
		t.Errorf("Rewrite = %q, %v; want %q", out, err, want)
	}
	a[0].Kind, a[0].To = "not-yet-mirrored", -1
	if _, err := in.Rewrite(a); err == nil {
		t.Error("Rewrite accepted a not-yet-mirrored position")
	}
	lines, err := offsets.Parse([]byte("orders 0 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	a[0].Kind, a[0].To = "next-copied", 9
	if out, err := lines.Rewrite(a); err != nil || string(out) != "new.orders 0 9\n" {
		t.Errorf("Rewrite lines = %q, %v", out, err)
	}
}
