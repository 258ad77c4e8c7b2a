package main

import (
	"slices"
	"testing"
)

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.real || o.brokers != 3 || o.processes != 2 || o.processUnits != 4 || !slices.Equal(o.unitRows, []int{1, 2, 4}) {
		t.Fatalf("defaults %+v", o)
	}
}

func TestParseFlagsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--real", "--source", "a:1", "--target", "b:1"},
		{"--processes", "-1"},
		{"--process-units", "0"},
		{"--source", "a:1"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestContinuousRunNames(t *testing.T) {
	for _, c := range []struct {
		run         continuousRun
		name, label string
	}{
		{continuousRun{1, 4}, "mirror-cont1x4", "(c) kmigrate mirror --units 4, continuous, 1 process"},
		{continuousRun{2, 4}, "mirror-cont2x4", "(c) kmigrate mirror --units 4, continuous, 2 processes"},
	} {
		if c.run.name() != c.name || c.run.label() != c.label {
			t.Errorf("%+v: name %q, label %q", c.run, c.run.name(), c.run.label())
		}
	}
}
