package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Selection chooses topics or consumer groups by name with regular
// expressions, as MirrorMaker 2 does: a name is selected when it matches
// some Include pattern (or Include is empty) and no Exclude pattern.
//
// Every pattern must match the whole name: "orders" selects the topic
// "orders" and not "orders.v2"; write "orders.*" for both. Anchoring by
// default avoids the classic surprise of an unanchored "orders" also
// selecting "preorders".
//
// An empty Include selects everything, so that a spec without a topics
// section migrates every topic. Which topics exist (and whether internal
// ones such as __consumer_offsets are candidates at all) is for the
// packages that list them; Selection only matches names.
type Selection struct {
	// Include and Exclude are the compiled, anchored patterns.
	Include []*regexp.Regexp `json:"-"`
	Exclude []*regexp.Regexp `json:"-"`
	// IncludePatterns and ExcludePatterns are the patterns as written, for
	// printing.
	IncludePatterns []string `json:"include,omitempty"`
	ExcludePatterns []string `json:"exclude,omitempty"`
}

// NewSelection compiles include and exclude patterns. Each is anchored as
// ^(?:pattern)$. Errors quote the pattern as written.
func NewSelection(include, exclude []string) (Selection, error) {
	s := Selection{
		IncludePatterns: append([]string(nil), include...),
		ExcludePatterns: append([]string(nil), exclude...),
	}
	var err error
	if s.Include, err = compileAnchored(include); err != nil {
		return Selection{}, fmt.Errorf("include: %w", err)
	}
	if s.Exclude, err = compileAnchored(exclude); err != nil {
		return Selection{}, fmt.Errorf("exclude: %w", err)
	}
	return s, nil
}

func compileAnchored(patterns []string) ([]*regexp.Regexp, error) {
	var res []*regexp.Regexp
	for _, p := range patterns {
		re, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		res = append(res, re)
	}
	return res, nil
}

// compilePattern compiles p anchored as ^(?:p)$. Compiling the bare
// pattern first keeps our anchoring out of its error message, and means a
// valid pattern cannot close our group early. One that still does not
// anchor (an unterminated \Q quotes our closing ")$") is refused.
func compilePattern(p string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(p); err != nil {
		return nil, fmt.Errorf("invalid regular expression %s: %w", strconv.Quote(p), err)
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regular expression %s cannot be anchored to match whole names (an unterminated \\Q?): %w", strconv.Quote(p), err)
	}
	return re, nil
}

// Match reports whether name is selected.
func (s Selection) Match(name string) bool {
	if len(s.Include) > 0 && !matchAny(s.Include, name) {
		return false
	}
	return !matchAny(s.Exclude, name)
}

func matchAny(res []*regexp.Regexp, name string) bool {
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// String describes the selection, e.g. `include orders\..*, payments;
// exclude orders\.tmp.*` or "all".
func (s Selection) String() string {
	inc := "all"
	if len(s.IncludePatterns) > 0 {
		inc = "include " + strings.Join(s.IncludePatterns, ", ")
	}
	if len(s.ExcludePatterns) == 0 {
		return inc
	}
	return inc + "; exclude " + strings.Join(s.ExcludePatterns, ", ")
}
