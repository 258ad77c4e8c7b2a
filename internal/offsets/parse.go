package offsets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is the shape of a file of positions.
type Format int

// The formats Parse recognises.
const (
	// Lines: `topic partition offset` per line; blank lines and lines
	// starting with # are skipped.
	Lines Format = iota + 1
	// SparkJSON: one JSON object of topic -> partition (a string) ->
	// offset, as a Spark Structured Streaming checkpoint keeps a Kafka
	// source's offsets.
	SparkJSON
	// SparkLog: a Spark checkpoint's offsets/<batch> file: a version line
	// ("v1"), a metadata line, then one line per source; the lines that
	// are Kafka source offsets (SparkJSON) are translated, the others kept.
	SparkLog
	// List: a JSON list of {"topic", "partition", "offset"} objects (a
	// Flink-style export of a Kafka source's split offsets).
	List
)

func (f Format) String() string {
	switch f {
	case Lines:
		return "lines"
	case SparkJSON:
		return "spark-json"
	case SparkLog:
		return "spark-log"
	case List:
		return "list"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ErrSyntax: the input is not in any format Parse knows.
var ErrSyntax = errors.New("offsets input")

// Input is a parsed file of positions, kept so it can be written back
// translated (Rewrite).
type Input struct {
	Format Format
	// Positions are the positions to translate, in input order. Negative
	// offsets (Spark's -1 latest and -2 earliest) are not positions and
	// are left out; Rewrite keeps them as they are.
	Positions []Position
	lines     []string         // SparkLog: every line
	kafka     map[int]sparkObj // SparkLog: the lines that are Kafka offsets, by index
	obj       sparkObj         // SparkJSON
	list      []map[string]json.RawMessage
	trailNL   bool
}

// sparkObj is topic -> partition -> offset.
type sparkObj map[string]map[string]int64

// Parse recognises the format of b and reads its positions.
func Parse(b []byte) (*Input, error) {
	in := &Input{trailNL: bytes.HasSuffix(b, []byte("\n"))}
	t := bytes.TrimSpace(b)
	switch {
	case len(t) == 0:
		return nil, fmt.Errorf("%w: empty", ErrSyntax)
	case t[0] == '[':
		in.Format = List
		return in, in.parseList(t)
	case t[0] == '{':
		in.Format = SparkJSON
		o, err := parseSpark(t)
		if err != nil {
			return nil, err
		}
		in.obj = o
		in.Positions = o.positions()
		return in, nil
	case bytes.HasPrefix(t, []byte("v")) && !bytes.ContainsAny(firstLine(t), " \t"):
		in.Format = SparkLog
		return in, in.parseLog(string(t))
	}
	in.Format = Lines
	return in, in.parseLines(string(t))
}

func firstLine(b []byte) []byte {
	l, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.TrimSpace(l)
}

func (in *Input) parseLines(s string) error {
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			return fmt.Errorf("%w: line %d: want `topic partition offset`, got %q", ErrSyntax, i+1, l)
		}
		p, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil || p < 0 {
			return fmt.Errorf("%w: line %d: partition %q is not a partition number", ErrSyntax, i+1, f[1])
		}
		o, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || o < 0 {
			return fmt.Errorf("%w: line %d: offset %q is not an offset", ErrSyntax, i+1, f[2])
		}
		in.Positions = append(in.Positions, Position{Topic: f[0], Partition: int32(p), Offset: o})
	}
	if len(in.Positions) == 0 {
		return fmt.Errorf("%w: no `topic partition offset` line", ErrSyntax)
	}
	return nil
}

func parseSpark(b []byte) (sparkObj, error) {
	var o sparkObj
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%w: a JSON object of topic -> partition -> offset: %w", ErrSyntax, err)
	}
	for topic, parts := range o {
		if topic == "" {
			return nil, fmt.Errorf("%w: empty topic name", ErrSyntax)
		}
		for p := range parts {
			if n, err := strconv.ParseInt(p, 10, 32); err != nil || n < 0 || strconv.FormatInt(n, 10) != p {
				return nil, fmt.Errorf("%w: topic %q: partition %q is not a partition number", ErrSyntax, topic, p)
			}
		}
	}
	return o, nil
}

// positions lists o's positions sorted by topic and partition, without
// Spark's special negative offsets.
func (o sparkObj) positions() []Position {
	var out []Position
	for topic, parts := range o {
		for p, off := range parts {
			n, _ := strconv.ParseInt(p, 10, 32)
			if off >= 0 {
				out = append(out, Position{Topic: topic, Partition: int32(n), Offset: off})
			}
		}
	}
	slices.SortFunc(out, func(a, b Position) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func (in *Input) parseLog(s string) error {
	in.lines = strings.Split(s, "\n")
	if len(in.lines) < 2 || in.lines[0] != "v1" {
		return fmt.Errorf("%w: a Spark offsets log starts with the line v1 and a metadata line", ErrSyntax)
	}
	in.kafka = map[int]sparkObj{}
	for i := 2; i < len(in.lines); i++ {
		o, err := parseSpark([]byte(in.lines[i]))
		if err != nil {
			continue // another kind of source: kept as it is
		}
		in.kafka[i] = o
		in.Positions = append(in.Positions, o.positions()...)
	}
	if len(in.kafka) == 0 {
		return fmt.Errorf("%w: the Spark offsets log has no Kafka source line", ErrSyntax)
	}
	return nil
}

func (in *Input) parseList(b []byte) error {
	if err := json.Unmarshal(b, &in.list); err != nil {
		return fmt.Errorf("%w: a JSON list of {topic, partition, offset}: %w", ErrSyntax, err)
	}
	for i, e := range in.list {
		var p Position
		for k, dst := range map[string]any{"topic": &p.Topic, "partition": &p.Partition, "offset": &p.Offset} {
			raw, ok := e[k]
			if !ok {
				return fmt.Errorf("%w: element %d has no %q", ErrSyntax, i, k)
			}
			if err := json.Unmarshal(raw, dst); err != nil {
				return fmt.Errorf("%w: element %d: %q: %w", ErrSyntax, i, k, err)
			}
		}
		if p.Topic == "" || p.Partition < 0 {
			return fmt.Errorf("%w: element %d: empty topic or negative partition", ErrSyntax, i)
		}
		if p.Offset >= 0 {
			in.Positions = append(in.Positions, p)
		}
	}
	return nil
}

// Rewrite writes the input back in its own format with every position
// replaced by its answer (target topic and offset). Every position must
// have a final answer; fields and lines it does not know are kept.
func (in *Input) Rewrite(answers []Answer) ([]byte, error) {
	by := map[Position]Answer{}
	for _, a := range answers {
		by[a.From] = a
	}
	for _, p := range in.Positions {
		a, ok := by[p]
		if !ok || !a.Final() {
			return nil, fmt.Errorf("rewrite: %s has no position to resume at (%s)", p, a.Kind)
		}
	}
	var out []byte
	var err error
	switch in.Format {
	case Lines:
		var b strings.Builder
		for _, p := range in.Positions {
			a := by[p]
			fmt.Fprintf(&b, "%s %d %d\n", a.ToTopic, p.Partition, a.To)
		}
		return []byte(b.String()), nil
	case SparkJSON:
		out, err = json.Marshal(in.obj.rewrite(by))
	case SparkLog:
		lines := slices.Clone(in.lines)
		for i, o := range in.kafka {
			b, err := json.Marshal(o.rewrite(by))
			if err != nil {
				return nil, fmt.Errorf("rewrite: %w", err)
			}
			lines[i] = string(b)
		}
		out = []byte(strings.Join(lines, "\n"))
	case List:
		list := make([]map[string]json.RawMessage, len(in.list))
		for i, e := range in.list {
			var p Position
			_ = json.Unmarshal(e["topic"], &p.Topic)
			_ = json.Unmarshal(e["partition"], &p.Partition)
			_ = json.Unmarshal(e["offset"], &p.Offset)
			list[i] = map[string]json.RawMessage{}
			for k, v := range e {
				list[i][k] = v
			}
			if a, ok := by[p]; ok {
				list[i]["topic"], _ = json.Marshal(a.ToTopic)
				list[i]["offset"], _ = json.Marshal(a.To)
			}
		}
		out, err = json.Marshal(list)
	}
	if err != nil {
		return nil, fmt.Errorf("rewrite: %w", err)
	}
	if in.trailNL || in.Format == SparkJSON || in.Format == List {
		out = append(out, '\n')
	}
	return out, nil
}

// rewrite returns o with topics and offsets translated (negative offsets
// kept, under the translated topic name).
func (o sparkObj) rewrite(by map[Position]Answer) sparkObj {
	names := map[string]string{}
	for _, a := range by {
		names[a.From.Topic] = a.ToTopic
	}
	out := sparkObj{}
	for topic, parts := range o {
		for p, off := range parts {
			n, _ := strconv.ParseInt(p, 10, 32)
			to, v := topic, off
			if n, ok := names[topic]; ok {
				to = n
			}
			if a, ok := by[Position{Topic: topic, Partition: int32(n), Offset: off}]; ok {
				to, v = a.ToTopic, a.To
			}
			if out[to] == nil {
				out[to] = map[string]int64{}
			}
			out[to][p] = v
		}
	}
	return out
}
