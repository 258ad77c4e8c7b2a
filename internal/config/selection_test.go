package config_test

import (
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestSelectionMatch(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		yes, no          []string
	}{
		{
			name: "empty include selects everything",
			yes:  []string{"orders", "", "__consumer_offsets"},
		},
		{
			name:    "patterns match whole names",
			include: []string{`orders\..*`, "payments"},
			yes:     []string{"orders.v1", "orders.", "payments"},
			no:      []string{"orders", "preorders.v1", "payments2", "xpayments", "orders.v1\n"},
		},
		{
			name:    "alternation stays inside the anchors",
			include: []string{"a|b"},
			yes:     []string{"a", "b"},
			no:      []string{"ab", "xa", "bx"},
		},
		{
			name:    "exclude wins",
			include: []string{`orders\..*`},
			exclude: []string{`orders\.tmp.*`},
			yes:     []string{"orders.v1"},
			no:      []string{"orders.tmp", "orders.tmp-1"},
		},
		{
			name:    "exclude alone",
			exclude: []string{"_.*"},
			yes:     []string{"orders"},
			no:      []string{"_schemas"},
		},
		{
			name:    "literal dollar is an anchor only at the end",
			include: []string{"orders$"},
			yes:     []string{"orders"},
			no:      []string{"orders$"},
		},
		{
			name:    "flags are scoped",
			include: []string{"(?i)orders", "x"},
			yes:     []string{"ORDERS", "x"},
			no:      []string{"X"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.NewSelection(tt.include, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.yes {
				if !s.Match(n) {
					t.Errorf("Match(%q) = false, want true", n)
				}
			}
			for _, n := range tt.no {
				if s.Match(n) {
					t.Errorf("Match(%q) = true, want false", n)
				}
			}
		})
	}
}

func TestSelectionErrors(t *testing.T) {
	tests := []struct {
		include, exclude []string
		want             string
	}{
		{[]string{"ok", "orders["}, nil, "include: invalid regular expression \"orders[\": error parsing regexp: missing closing ]: `[`"},
		{nil, []string{"a)"}, "exclude: invalid regular expression \"a)\": error parsing regexp: unexpected ): `a)`"},
		{[]string{`\Qabc`}, nil, `include: regular expression "\\Qabc" cannot be anchored`},
	}
	for _, tt := range tests {
		_, err := config.NewSelection(tt.include, tt.exclude)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSelection(%q, %q) error = %v, want %q", tt.include, tt.exclude, err, tt.want)
		}
	}
}

func TestSelectionString(t *testing.T) {
	tests := []struct {
		include, exclude []string
		want             string
	}{
		{nil, nil, "all"},
		{[]string{`orders\..*`, "payments"}, nil, `include orders\..*, payments`},
		{nil, []string{"tmp.*"}, "all; exclude tmp.*"},
		{[]string{"a"}, []string{"b", "c"}, "include a; exclude b, c"},
	}
	for _, tt := range tests {
		s, err := config.NewSelection(tt.include, tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
