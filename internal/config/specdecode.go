package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder fills a Go value from a YAML node tree by walking both together,
// guided by the yaml struct tags. yaml.v3 could decode the tree itself, but
// its messages have no file name, cannot suggest a field for a typo, and it
// would turn "connect_timeout: 10" into ten nanoseconds. Walking ourselves
// gives every error a file:line and field path, and lets ${VAR} expansion
// happen on scalar values (never keys) before they are converted.
type decoder struct {
	file  string
	env   LookupEnv
	lines map[string]int
	errs  []error
	// nodes counts nodes visited, bounding the work that aliases can
	// multiply ("billion laughs").
	nodes int
}

// maxSpecNodes is far more than any real spec has.
const maxSpecNodes = 100_000

var (
	durationType  = reflect.TypeFor[time.Duration]()
	protocolType  = reflect.TypeFor[SecurityProtocol]()
	mechanismType = reflect.TypeFor[Mechanism]()
	byteSizeType  = reflect.TypeFor[ByteSize]()
	textType      = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isText reports whether the decoder parses values of t with their
// UnmarshalText method (start positions, sizes, ...), whose errors say what
// is wanted.
func isText(t reflect.Type) bool {
	return t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textType)
}

// maxSpecErrors bounds the errors reported at once: past it, more
// messages bury the first ones rather than help.
const maxSpecErrors = 20

func (d *decoder) addError(err error) {
	switch {
	case len(d.errs) < maxSpecErrors:
		d.errs = append(d.errs, err)
	case len(d.errs) == maxSpecErrors:
		d.errs = append(d.errs, fmt.Errorf("%s: too many errors; fix these first", d.file))
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	at := path
	if at == "" {
		at = "the spec"
	}
	d.addError(fmt.Errorf("%s:%d: %s: %s", d.file, n.Line, at, fmt.Sprintf(format, args...)))
}

// visit counts a node against maxSpecNodes; past it, the walk stops and
// ParseSpec reports only that.
func (d *decoder) visit() bool {
	d.nodes++
	return d.nodes <= maxSpecNodes
}

// decode stores n into v, whose field path is path ("" for the root).
// splitSep, when not "", lets a string list be written as one string
// separated by it (the split struct tag).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path, splitSep string) {
	if path != "" {
		d.lines[path] = n.Line // where it is used, for an alias
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if !d.visit() {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // "field:" or "field: ~" leaves it unset
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path, splitSep)
	case t.Kind() == reflect.Struct && !isText(t):
		d.mapping(n, v, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		d.list(n, v, path, splitSep)
	default:
		s, ok := d.scalar(n, path, describe(t))
		if !ok {
			return
		}
		d.set(n, v, path, s)
	}
}

// scalar returns a scalar node's value with ${VAR}s expanded.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.errorf(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expandEnv(n.Value, d.env)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return "", false
	}
	return s, true
}

// set converts a scalar for a field of v's type.
func (d *decoder) set(n *yaml.Node, v reflect.Value, path, s string) {
	t := v.Type()
	switch {
	case t == protocolType:
		p, err := ParseSecurityProtocol(s)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetString(string(p))
	case t == mechanismType:
		m, err := ParseMechanism(s)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		v.SetString(string(m))
	case isText(t):
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.errorf(n, path, "%v", err)
		}
	case t == durationType:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(n, path, "want a duration like 10s or 1m30s, not %q", s)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Bool:
		switch strings.ToLower(s) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n, path, "want true or false, not %q", s)
		}
	case t.Kind() == reflect.Int:
		i, err := strconv.Atoi(s)
		if err != nil {
			d.errorf(n, path, "want an integer, not %q", s)
			return
		}
		v.SetInt(int64(i))
	default:
		// A field type this decoder does not know is a programming error
		// in the Spec types, caught by the tests.
		panic(fmt.Sprintf("config: spec field %s has unsupported type %s", path, t))
	}
}

// list fills a []string from a sequence of scalars, or from one scalar
// (split at splitSep when it is not "").
func (d *decoder) list(n *yaml.Node, v reflect.Value, path, splitSep string) {
	var items []string
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := d.scalar(n, path, "")
		if !ok {
			return
		}
		if splitSep == "" {
			items = []string{s}
			break
		}
		for part := range strings.SplitSeq(s, splitSep) {
			if part = strings.TrimSpace(part); part != "" {
				items = append(items, part)
			}
		}
	case yaml.SequenceNode:
		items = make([]string, 0, len(n.Content))
		for i, c := range n.Content {
			for c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			s, ok := d.scalar(c, p, "a string")
			if !ok {
				continue
			}
			items = append(items, s)
		}
	default:
		want := "a list of strings"
		if splitSep != "" {
			want += " or one " + strconv.Quote(splitSep) + "-separated string"
		}
		d.errorf(n, path, "want %s, got %s", want, kindName(n))
		return
	}
	v.Set(reflect.ValueOf(items).Convert(v.Type()))
}

// mapping fills a struct from a mapping node, field by field.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if !d.visit() {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of fields (%s), got %s", strings.Join(fieldNames(v.Type()), ", "), kindName(n))
		return
	}
	// YAML merge keys ("<<: *defaults") come first so that the mapping's
	// own keys override them, whatever the order they are written in.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "field names must be strings, got %s", kindName(k))
			continue
		}
		name := k.Value
		if first, dup := seen[name]; dup {
			d.errorf(k, path, "field %q is given twice (first on line %d)", name, first)
			continue
		}
		seen[name] = k.Line
		f, ok := fieldByTag(v.Type(), name)
		if !ok {
			d.unknown(k, v.Type(), path)
			continue
		}
		d.decode(val, v.FieldByIndex(f.Index), joinPath(path, name), f.Tag.Get("split"))
	}
}

// merge applies a merge key's value: a mapping, or a list of mappings.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if !d.visit() {
		return
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			d.merge(c, v, path)
		}
		return
	}
	d.mapping(n, v, path)
}

// unknown reports an unknown field, suggesting the nearest known one.
func (d *decoder) unknown(k *yaml.Node, t reflect.Type, path string) {
	in := "at the top level"
	if path != "" {
		in = "in " + path
	}
	names := fieldNames(t)
	hint := ""
	if s := closest(k.Value, names); s != "" {
		hint = fmt.Sprintf("; did you mean %q?", s)
	} else {
		hint = ";"
	}
	d.addError(fmt.Errorf("%s:%d: unknown field %q %s%s known fields: %s",
		d.file, k.Line, k.Value, in, hint, strings.Join(names, ", ")))
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldByTag finds the struct field whose yaml tag names name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// fieldNames lists a struct's yaml field names in declaration order.
func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && tagName(f) != "" {
			names = append(names, tagName(f))
		}
	}
	return names
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// describe says what a scalar field wants, for type errors.
func describe(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration like 10s"
	case t == byteSizeType:
		return "a size like 256MiB"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	}
	return "a string"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing (null)"
		}
		return "a single value"
	}
	return "something else"
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), c)
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if bestDist >= 0 && bestDist <= max(2, len(s)/3) && bestDist < len(s) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // not a typo of a field name
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
