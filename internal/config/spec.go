package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is a migration spec file (kmigrate -f migration.yaml) as written,
// with ${VAR}s expanded and relative paths resolved against the file's
// directory. Load combines it with properties files and flags into a
// Config.
//
// Field names are snake_case. Every section is optional so that the spec can
// grow (mirror:, cutover: ...) without breaking older files, and every
// unknown field is an error, so that a typo cannot silently drop a setting.
type Spec struct {
	// Version is the spec format version; only 1 exists. 0 (absent) means 1.
	Version int `yaml:"version"`
	// Name names the migration: [A-Za-z0-9._-]{1,200}. Optional.
	Name string `yaml:"name"`
	// Source and Target are the clusters to migrate from and to.
	Source *ClusterSpec `yaml:"source"`
	Target *ClusterSpec `yaml:"target"`
	// Topics selects the topics to migrate (absent means all) and shapes
	// their target topics.
	Topics *TopicsSpec `yaml:"topics"`
	// Groups selects the consumer groups to migrate (absent means all)
	// and sets how their offsets are moved.
	Groups *GroupsSpec `yaml:"groups"`
	// Mirror holds the settings of record mirroring.
	Mirror *MirrorSpec `yaml:"mirror"`
	// ACLs says how ACL bindings, quotas and users move (package acls).
	ACLs *ACLsSpec `yaml:"acls"`

	file  string
	lines map[string]int // field path ("source.sasl.password") -> line
}

// ClusterSpec is a cluster's section in the spec. Each field set here
// overrides the cluster's properties file.
type ClusterSpec struct {
	// Bootstrap lists host:port seed brokers; one comma-separated string
	// is accepted too.
	Bootstrap []string `yaml:"bootstrap" split:","`
	// PropertiesFile is a Java or librdkafka client properties file.
	PropertiesFile string `yaml:"properties_file"`
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol SecurityProtocol `yaml:"security_protocol"`
	// SASL holds the mechanism and credentials.
	SASL *SASLSpec `yaml:"sasl"`
	// TLS names the certificate files.
	TLS *TLSSpec `yaml:"tls"`
	// ClientID is sent to the brokers.
	ClientID string `yaml:"client_id"`
	// ConnectTimeout bounds connection attempts, as a Go duration ("10s");
	// nil means the default, and a given one must be positive.
	ConnectTimeout *time.Duration `yaml:"connect_timeout"`
}

// SASLSpec is the sasl section of a cluster.
type SASLSpec struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism Mechanism `yaml:"mechanism"`
	Username  string    `yaml:"username"`
	// Password is usually "${VAR}", so that the spec holds no secret.
	Password Secret `yaml:"password"`
}

// TLSSpec is the tls section of a cluster.
type TLSSpec struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and key for
	// mutual TLS; KeyFile may be empty when CertFile holds both.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name broker certificates are verified
	// against.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate verification off. A pointer so
	// that "false" can override a properties file that turned it on.
	InsecureSkipVerify *bool `yaml:"insecure_skip_verify"`
}

// SelectionSpec selects names by regular expression. Each pattern must
// match the whole name, as in MirrorMaker: "orders" selects the topic
// orders, not orders.v2.
type SelectionSpec struct {
	// Include selects names; empty selects all.
	Include []string `yaml:"include"`
	// Exclude removes names that Include selected.
	Exclude []string `yaml:"exclude"`
}

// GroupsSpec is the groups section: a selection, and how group offsets are
// kept in sync and migrated.
type GroupsSpec struct {
	// Include and Exclude select source groups, as in SelectionSpec.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Sync turns continuous group offset sync in `kmigrate mirror` on
	// (the default) or off.
	Sync *bool `yaml:"sync"`
	// SyncInterval is how often continuous sync copies offsets.
	SyncInterval *time.Duration `yaml:"sync_interval"`
	// MirrorWait bounds how long `groups migrate` waits for the mirror to
	// copy up to a group's committed offsets.
	MirrorWait *time.Duration `yaml:"mirror_wait"`
}

// selection returns the groups section's include and exclude lists, or
// nil.
func (g *GroupsSpec) selection() *SelectionSpec {
	if g == nil {
		return nil
	}
	return &SelectionSpec{Include: g.Include, Exclude: g.Exclude}
}

// TopicsSpec is the topics section: a selection, and how target topics
// are named, created and kept in sync.
type TopicsSpec struct {
	// Include and Exclude select source topics, as in SelectionSpec.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Prefix makes the target name prefix + source name.
	Prefix string `yaml:"prefix"`
	// Rename makes the target name from a template in which {topic} is
	// the source name. Prefix and Rename are mutually exclusive.
	Rename string `yaml:"rename"`
	// ReplicationFactor of created target topics; absent, 0 or -1 mean
	// the target cluster's default.
	ReplicationFactor int `yaml:"replication_factor"`
	// ReuseEmpty allows an existing empty target topic with the source's
	// partition count.
	ReuseEmpty bool `yaml:"reuse_empty"`
	// Configs adjusts which topic configs are copied.
	Configs *TopicConfigsSpec `yaml:"configs"`
	// SyncInterval is how often continuous mirroring re-syncs partition
	// counts and configs. A pointer, so that an explicit 0s is an error
	// rather than the default.
	SyncInterval *time.Duration `yaml:"sync_interval"`
}

// TopicConfigsSpec is topics.configs: config names (not patterns) to copy
// beyond the default allow list, and never to copy.
type TopicConfigsSpec struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

// MirrorSpec is the mirror section. Absent fields take the defaults of
// DefaultMirror; pointers tell an explicit zero from absence.
type MirrorSpec struct {
	// Start is earliest, latest, committed or an RFC 3339 timestamp.
	Start *StartPosition `yaml:"start"`
	// StartFallback is earliest or latest.
	StartFallback StartKind `yaml:"start_fallback"`
	// Until is end or never.
	Until Until `yaml:"until"`
	// Guarantee is exactly-once or at-least-once.
	Guarantee Guarantee `yaml:"guarantee"`
	// TracingHeaders adds kmigrate.src headers to mirrored records.
	TracingHeaders *bool `yaml:"tracing_headers"`
	// MemoryBudget and TransactionMaxBytes are sizes such as 256MiB.
	MemoryBudget        *ByteSize `yaml:"memory_budget"`
	TransactionMaxBytes *ByteSize `yaml:"transaction_max_bytes"`
	// TransactionInterval is a Go duration such as 250ms.
	TransactionInterval *time.Duration `yaml:"transaction_interval"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
}

// specVersion is the only spec format version so far.
const specVersion = 1

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// maxSpecSize bounds the spec file: specs are small, and a wrong path
// should fail fast.
const maxSpecSize = 4 << 20

// LoadSpec reads and parses the spec file at path; see ParseSpec.
func LoadSpec(path string, env LookupEnv) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("read spec %s: %w", path, err)
	}
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("spec %s is larger than %d MiB: is it the right file?", path, maxSpecSize>>20)
	}
	return ParseSpec(data, path, env)
}

// ParseSpec parses a spec from YAML. file is its path: it prefixes messages
// ("file:line: ..."), and relative paths in the spec resolve against its
// directory. ${VAR} references in values expand through env (nil means
// os.LookupEnv); keys are never expanded.
//
// It checks everything that needs no file or network: unknown fields,
// types, the version, the name, security protocols and mechanisms, and
// regular expressions. Errors name the file, line and field.
func ParseSpec(data []byte, file string, env LookupEnv) (*Spec, error) {
	if file == "" {
		file = "(spec)"
	}
	s := &Spec{file: file, lines: map[string]int{}}
	root, err := parseYAML(data, file)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d := decoder{file: file, env: env.orOS(), lines: s.lines}
		d.decode(root, reflect.ValueOf(s).Elem(), "", "")
		if d.nodes > maxSpecNodes {
			return nil, fmt.Errorf("%s: the spec has more than %d nodes: are aliases or merge keys expanding?", file, maxSpecNodes)
		}
		if len(d.errs) > 0 {
			return nil, errors.Join(d.errs...)
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.resolvePaths()
	return s, nil
}

// parseYAML returns the root node of the single document in data, or nil
// for an empty document.
func parseYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(file, err)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document: a spec is one document; remove the \"---\"", file, extra.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

// yamlLine picks the line out of yaml.v3's "yaml: line N: msg". The
// parser's line numbers can be one or two short (it reports where the
// construct began, counted from 0), hence "near".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s: invalid YAML near line %s: %s", file, m[1], msg[len(m[0]):])
	}
	return fmt.Errorf("%s: invalid YAML: %s", file, strings.TrimPrefix(msg, "yaml: "))
}

// where formats "file:line: path" for a field path.
func (s *Spec) where(path string) string {
	if l, ok := s.lines[path]; ok {
		return fmt.Sprintf("%s:%d: %s", s.file, l, path)
	}
	return fmt.Sprintf("%s: %s", s.file, path)
}

// check validates what the field types cannot.
func (s *Spec) check() error {
	var errs []error
	switch s.Version {
	case 0:
		s.Version = specVersion
	case specVersion:
	default:
		errs = append(errs, fmt.Errorf("%s: version %d is not supported: this kmigrate reads version %d", s.where("version"), s.Version, specVersion))
	}
	if s.Name != "" && !nameRE.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("%s: %q is not a valid name: use 1 to 200 letters, digits, '.', '_' or '-'", s.where("name"), s.Name))
	}
	for _, c := range []struct {
		role string
		c    *ClusterSpec
	}{{"source", s.Source}, {"target", s.Target}} {
		if c.c != nil && c.c.ConnectTimeout != nil {
			if err := CheckConnectTimeout(*c.c.ConnectTimeout); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.where(c.role+".connect_timeout"), err))
			}
		}
	}
	for _, ss := range []struct {
		section string
		sel     *SelectionSpec
	}{{"topics", s.Topics.selection()}, {"groups", s.Groups.selection()}} {
		section, sel := ss.section, ss.sel
		if sel == nil {
			continue
		}
		for i, p := range sel.Include {
			if err := checkPattern(p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.where(fmt.Sprintf("%s.include[%d]", section, i)), err))
			}
		}
		for i, p := range sel.Exclude {
			if err := checkPattern(p); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.where(fmt.Sprintf("%s.exclude[%d]", section, i)), err))
			}
		}
	}
	errs = append(errs, s.checkTopics()...)
	errs = append(errs, s.checkMirror()...)
	errs = append(errs, s.checkGroups()...)
	return errors.Join(errs...)
}

// selection returns the topics section's include and exclude lists, or
// nil.
func (t *TopicsSpec) selection() *SelectionSpec {
	if t == nil {
		return nil
	}
	return &SelectionSpec{Include: t.Include, Exclude: t.Exclude}
}

// checkGroups validates the groups section beyond its selection.
func (s *Spec) checkGroups() []error {
	g := s.Groups
	if g == nil {
		return nil
	}
	var errs []error
	if d := g.SyncInterval; d != nil && *d < MinGroupSyncInterval {
		errs = append(errs, fmt.Errorf("%s: %v is too short: use at least %v (the default is %v)", s.where("groups.sync_interval"), *d, MinGroupSyncInterval, DefaultGroupSyncInterval))
	}
	if d := g.MirrorWait; d != nil && *d < 0 {
		errs = append(errs, fmt.Errorf("%s: must not be negative (0 does not wait)", s.where("groups.mirror_wait")))
	}
	return errs
}

// checkTopics validates the topics section beyond its selection.
func (s *Spec) checkTopics() []error {
	t := s.Topics
	if t == nil {
		return nil
	}
	var errs []error
	at := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", s.where("topics."+field), err))
	}
	if t.Prefix != "" && t.Rename != "" {
		at("rename", errors.New("topics.prefix and topics.rename are mutually exclusive: a prefix is the template \"PREFIX{topic}\"; keep one"))
	}
	if err := checkPrefix(t.Prefix); err != nil {
		at("prefix", err)
	}
	if err := checkRename(t.Rename); err != nil {
		at("rename", err)
	}
	if _, err := checkReplicationFactor(t.ReplicationFactor); err != nil {
		at("replication_factor", err)
	}
	if c := t.Configs; c != nil {
		checkConfigNames(c.Include, c.Exclude, func(path string, err error) {
			errs = append(errs, fmt.Errorf("%s: %w", s.where(path), err))
		})
	}
	if d := t.SyncInterval; d != nil && *d < MinSyncInterval {
		at("sync_interval", fmt.Errorf("%v is too short: use at least %v (the default is %v)", *d, MinSyncInterval, DefaultSyncInterval))
	}
	return errs
}

// checkMirror validates the mirror section's values one by one; how they
// combine with flags is Load's to check.
func (s *Spec) checkMirror() []error {
	m := s.Mirror
	if m == nil {
		return nil
	}
	var errs []error
	at := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", s.where("mirror."+field), err))
	}
	if m.MemoryBudget != nil {
		if err := checkMemoryBudget(int64(*m.MemoryBudget)); err != nil {
			at("memory_budget", err)
		}
	}
	if m.TransactionMaxBytes != nil {
		if err := checkTransactionMaxBytes(int64(*m.TransactionMaxBytes)); err != nil {
			at("transaction_max_bytes", err)
		}
	}
	if d := m.TransactionInterval; d != nil && (*d <= 0 || *d > MaxTransactionInterval) {
		at("transaction_interval", fmt.Errorf("%v is out of range: use more than 0 and at most %v (the default is %v)", *d, MaxTransactionInterval, DefaultTransactionInterval))
	}
	if m.Compression != "" {
		c, err := ParseCompression(m.Compression)
		if err != nil {
			at("compression", err)
		}
		m.Compression = c
	}
	return errs
}

func checkMemoryBudget(n int64) error {
	if n < MinMemoryBudget {
		return fmt.Errorf("%v is too small: use at least %v (the default is %v)", ByteSize(n), ByteSize(MinMemoryBudget), ByteSize(DefaultMemoryBudget))
	}
	return nil
}

func checkTransactionMaxBytes(n int64) error {
	if n < MinTransactionMaxBytes {
		return fmt.Errorf("%v is too small: a transaction must hold a record batch of Kafka's default maximum size; use at least %v (the default is %v)", ByteSize(n), ByteSize(MinTransactionMaxBytes), ByteSize(DefaultTransactionMaxBytes))
	}
	return nil
}

// resolvePaths makes the spec's relative paths relative to its directory.
func (s *Spec) resolvePaths() {
	dir := filepath.Dir(s.file)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, c := range []*ClusterSpec{s.Source, s.Target} {
		if c == nil {
			continue
		}
		abs(&c.PropertiesFile)
		if c.TLS != nil {
			abs(&c.TLS.CAFile)
			abs(&c.TLS.CertFile)
			abs(&c.TLS.KeyFile)
		}
	}
}

// apply sets the fields the spec gives on c, over what a properties file
// set.
func (cs *ClusterSpec) apply(c *Cluster) {
	if len(cs.Bootstrap) > 0 {
		c.Bootstrap = cs.Bootstrap
	}
	if cs.SecurityProtocol != "" {
		c.SecurityProtocol = cs.SecurityProtocol
	}
	if s := cs.SASL; s != nil {
		setStr(&c.SASL.Mechanism, s.Mechanism)
		setStr(&c.SASL.Username, s.Username)
		setStr(&c.SASL.Password, s.Password)
	}
	if t := cs.TLS; t != nil {
		setStr(&c.TLS.CAFile, t.CAFile)
		setStr(&c.TLS.CertFile, t.CertFile)
		setStr(&c.TLS.KeyFile, t.KeyFile)
		setStr(&c.TLS.ServerName, t.ServerName)
		if t.InsecureSkipVerify != nil {
			c.TLS.InsecureSkipVerify = *t.InsecureSkipVerify
		}
	}
	setStr(&c.ClientID, cs.ClientID)
	if cs.ConnectTimeout != nil {
		c.ConnectTimeout = *cs.ConnectTimeout
	}
}

func setStr[T ~string](dst *T, v T) {
	if v != "" {
		*dst = v
	}
}

// checkPattern reports whether p is a valid selection pattern.
func checkPattern(p string) error {
	_, err := compilePattern(p)
	return err
}
