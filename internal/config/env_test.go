package config_test

import (
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestExpandEnv(t *testing.T) {
	env := envOf(map[string]string{"A": "1", "B_2": "two", "EMPTY": "", "DOLLAR": "${A}"})
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"${A}", "1"},
		{"x${A}y${B_2}z", "x1ytwoz"},
		{"${EMPTY}", ""},
		{"orders$", "orders$"},
		{"$", "$"},
		{"$A", "$A"},
		{"a$b$", "a$b$"},
		{"$${A}", "${A}"},
		{"$$${A}", "$${A}"}, // "$" then the escape "$${"
		{"$$", "$$"},
		{"${DOLLAR}", "${A}"}, // values are not expanded again
		{"{A}", "{A}"},
		{"${A}}", "1}"},
		{"${env:B_2}", "two"},
	}
	for _, tt := range tests {
		got, err := config.ExpandEnv(tt.in, env)
		if err != nil || got != tt.want {
			t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestExpandEnvErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"${UNSET}", "environment variable UNSET is not set"},
		{"S3cr3t-Pa55${UNSET}", "environment variable UNSET is not set"},
		{"S3cr3t-Pa55${", "unterminated ${"},
		{"${S3cr3t-Pa55}", "${...} does not hold a variable name"},
		{"${}", "${...} does not hold a variable name"},
		{"${1A}", "${...} does not hold a variable name"},
		{"${file:/etc/x:k}", "${...} does not hold a variable name"},
		{"${env:UNSET}", "environment variable UNSET is not set"},
	}
	for _, tt := range tests {
		_, err := config.ExpandEnv(tt.in, noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ExpandEnv(%q) error = %v, want %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "S3cr3t") {
			t.Errorf("ExpandEnv(%q) error quotes the value: %v", tt.in, err)
		}
	}
}
