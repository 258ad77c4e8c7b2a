package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--records", "500", "--records2", "0", "--rows", "mm2-eos, copy,copy", "--scenarios", "6,1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.records != 500 || o.records2 != 0 || !slices.Equal(o.rows, []string{"mm2-eos", "copy"}) || !slices.Equal(o.scenarios, []int{6, 1}) {
		t.Fatalf("got records %d, records2 %d, rows %q, scenarios %v", o.records, o.records2, o.rows, o.scenarios)
	}
	o, err = parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.rows, allRows) || !slices.Equal(o.scenarios, []int{1, 2, 6, 4, 3, 5, 7}) || o.records != 1_000_000 || o.records2 != 10_000_000 {
		t.Fatalf("defaults: rows %q, scenarios %v, records %d, records2 %d", o.rows, o.scenarios, o.records, o.records2)
	}
	for args, want := range map[string]string{
		"--rows mm3":           `--rows: unknown row "mm3"`,
		"--scenarios 8":        `--scenarios: "8" is not a scenario`,
		"--records 0":          "--records 0,",
		"--partitions 0":       "--partitions 0:",
		"--step-timeout 0s":    "--step-timeout 0s:",
		"--behind 0":           "--behind 0,",
		"--scenarios 1,x":      `--scenarios: "x" is not a scenario`,
		"--records2 -1":        "--records2 -1,",
		"--rows copy extraarg": `unexpected arguments ["extraarg"]`,
	} {
		_, err := parseFlags(strings.Fields(args))
		if err == nil || !strings.HasPrefix(err.Error(), want) && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one with %q", args, err, want)
		}
	}
}
