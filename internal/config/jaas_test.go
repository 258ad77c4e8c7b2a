package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kmigrate/kmigrate/internal/config"
)

func TestParseJAAS(t *testing.T) {
	const plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
	tests := []struct {
		name string
		in   string
		want config.JAAS
	}{
		{
			name: "double quotes",
			in:   plain + ` required username="alice" password="pw";`,
			want: config.JAAS{Module: plain, Flag: "required", Options: map[string]config.Secret{"username": "alice", "password": "pw"}},
		},
		{
			name: "single quotes, bare words, flag case",
			in:   plain + ` REQUIRED username='a"b' password=p@ss:w0rd!;`,
			want: config.JAAS{Module: plain, Flag: "required", Options: map[string]config.Secret{"username": `a"b`, "password": "p@ss:w0rd!"}},
		},
		{
			name: "escapes in quotes",
			in:   plain + ` sufficient username="a\"b\\c" password="t\tn\nq\'o\101\0x";`,
			want: config.JAAS{Module: plain, Flag: "sufficient", Options: map[string]config.Secret{"username": `a"b\c`, "password": "t\tn\nq'oA\x00x"}},
		},
		{
			name: "whitespace, newlines and comments",
			in:   "\n  " + plain + "\n\trequisite /* c */\n  username = \"u\" // the user\n  password=\"p;=/\"\n;  ",
			want: config.JAAS{Module: plain, Flag: "requisite", Options: map[string]config.Secret{"username": "u", "password": "p;=/"}},
		},
		{
			name: "no options",
			in:   plain + " optional;",
			want: config.JAAS{Module: plain, Flag: "optional", Options: map[string]config.Secret{}},
		},
		{
			name: "semicolon right after value",
			in:   plain + ` required username=u password=p;`,
			want: config.JAAS{Module: plain, Flag: "required", Options: map[string]config.Secret{"username": "u", "password": "p"}},
		},
		{
			name: "empty quoted value",
			in:   plain + ` required username="" password='';`,
			want: config.JAAS{Module: plain, Flag: "required", Options: map[string]config.Secret{"username": "", "password": ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.ParseJAAS(tt.in)
			if err != nil {
				t.Fatalf("ParseJAAS: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", reveal(got), reveal(tt.want))
			}
		})
	}
}

// reveal shows a JAAS's option values, for test failure messages only.
func reveal(j config.JAAS) map[string]string {
	m := map[string]string{"(module)": j.Module, "(flag)": j.Flag}
	for k, v := range j.Options {
		m[k] = v.Reveal()
	}
	return m
}

func TestParseJAASErrors(t *testing.T) {
	const plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
	tests := []struct {
		in, want string
	}{
		{"", "no login module"},
		{"  // only a comment", "no login module"},
		{`"quoted" required;`, "want a login module class name first"},
		{plain, "login module " + plain + " has no control flag"},
		{plain + ";", "has no control flag"},
		{plain + " mandatory;", "login module " + plain + ": invalid control flag: want required, requisite, sufficient or optional after the class name"},
		{plain + ` required username="u" password="S3cr3t-Pa55"`, `does not end with ";"`},
		{plain + ` required username="u" password="S3cr3t-Pa55;`, "a quoted value is not closed"},
		{plain + ` required username="u" password="S3cr3t` + "\n" + `-Pa55";`, "a quoted value runs past the end of its line"},
		{plain + ` required username="u" password;`, `option "password" has no value`},
		{plain + ` required username="u" password=;`, `option "password" has no value`},
		{plain + ` required password="S3cr3t-Pa55" S3cr3t-Pa55;`, "option 2 (its name is not shown"},
		{plain + ` required username=u username=v;`, `option "username" is given twice`},
		{plain + ` required = x;`, "option 1: want name=value"},
		{plain + ` required username=u; ` + plain + ` required;`, "more than one login module"},
		{plain + ` required /* S3cr3t-Pa55`, "unterminated /* comment"},
	}
	for _, tt := range tests {
		_, err := config.ParseJAAS(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseJAAS(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "S3cr3t") {
			t.Errorf("ParseJAAS(%q) error leaks the password: %v", tt.in, err)
		}
	}
}
