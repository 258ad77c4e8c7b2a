package config

import (
	"errors"
	"fmt"
	"strings"
)

// Config is a validated migration: two clusters and what to move between
// them. It is plain data; printing it in any form shows no secret.
type Config struct {
	// Name is the spec's name, or empty.
	Name string `json:"name,omitempty"`
	// Source and Target are the clusters, with Role "source" and "target".
	Source Cluster `json:"source"`
	Target Cluster `json:"target"`
	// Topics selects the topics to migrate and shapes their target
	// topics; Groups selects the consumer groups.
	Topics Topics `json:"topics"`
	Groups Groups `json:"groups"`
	// Mirror holds the settings of record mirroring.
	Mirror Mirror `json:"mirror"`
	// ACLs says how access rules move (package acls).
	ACLs ACLs `json:"acls"`
	// SpecFile is the spec the configuration came from, or empty.
	SpecFile string `json:"spec_file,omitempty"`
}

// Overrides are the command-line flags that feed a Config. Zero values mean
// "not given".
type Overrides struct {
	// SpecFile is the migration spec (-f).
	SpecFile string
	// Source and Target are bootstrap servers, comma-separated; they
	// replace any the spec or properties file gives.
	Source, Target string
	// SourceConfig and TargetConfig are client properties files; each
	// replaces the spec's properties_file for that cluster. Relative paths
	// are relative to the working directory.
	SourceConfig, TargetConfig string
	// Topics and Groups are one regular expression each; each replaces the
	// spec's include list (its exclude list still applies).
	Topics, Groups string

	// TopicPrefix (--topic-prefix) replaces the spec's topics.prefix and
	// topics.rename.
	TopicPrefix string
	// AllowReuse (--allow-reuse) sets topics.reuse_empty.
	AllowReuse bool
	// ReplicationFactor (--replication-factor) replaces
	// topics.replication_factor; 0 means not given, -1 the target's
	// default.
	ReplicationFactor int
	// Start, StartFallback, Until and Guarantee (--start,
	// --start-fallback, --until, --guarantee) replace the spec's mirror
	// fields of the same names, and take the same values.
	Start, StartFallback, Until, Guarantee string
	// NoTracingHeaders (--no-tracing-headers) turns tracing headers off.
	NoTracingHeaders bool
	// MemoryBudget (--memory-budget) replaces mirror.memory_budget; a size
	// such as 512MiB.
	MemoryBudget string

	// GroupSync (--group-sync) replaces groups.sync when not nil.
	GroupSync *bool
}

// ErrNoMigration is returned, wrapped, when neither a spec nor flags name
// the clusters.
var ErrNoMigration = errors.New("no migration given")

// Load builds the Config from the spec file and flags in o. Per cluster,
// settings come from its properties file (the flag's, else the spec's
// properties_file), then the spec's inline fields, then the bootstrap flag,
// each overriding the one before field by field. Both clusters are then
// validated, and all errors are returned together.
//
// env resolves ${VAR}s in the spec and properties files; nil means
// os.LookupEnv. The warnings are for the user: ignored keys and weakened
// verification.
func Load(o Overrides, env LookupEnv) (*Config, []string, error) {
	if o.SpecFile == "" && o.Source == "" && o.Target == "" && o.SourceConfig == "" && o.TargetConfig == "" {
		return nil, nil, fmt.Errorf("%w: pass -f migration.yaml with source and target sections, or --source HOST:PORT and --target HOST:PORT (with --source-config and --target-config naming client properties files if the clusters need TLS or SASL)", ErrNoMigration)
	}
	spec := &Spec{}
	if o.SpecFile != "" {
		var err error
		if spec, err = LoadSpec(o.SpecFile, env); err != nil {
			return nil, nil, err
		}
	}
	cfg := &Config{Name: spec.Name, SpecFile: o.SpecFile}
	var warnings []string
	var errs []error
	for _, side := range []struct {
		c                  *Cluster
		role               string
		spec               *ClusterSpec
		propsFlag, bootFlg string
	}{
		{&cfg.Source, "source", spec.Source, o.SourceConfig, o.Source},
		{&cfg.Target, "target", spec.Target, o.TargetConfig, o.Target},
	} {
		w, err := buildCluster(side.c, side.role, spec, side.spec, side.propsFlag, side.bootFlg, env)
		warnings = append(warnings, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	if cfg.Topics, err = buildTopics(spec, o); err != nil {
		errs = append(errs, err)
	}
	if cfg.Groups, err = buildGroups(spec, o); err != nil {
		errs = append(errs, err)
	}
	if cfg.ACLs, err = buildACLs(spec); err != nil {
		errs = append(errs, err)
	}
	var w []string
	cfg.Mirror, w, err = buildMirror(spec, o)
	warnings = append(warnings, w...)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	return cfg, warnings, nil
}

// buildCluster layers a cluster's settings and validates the result.
func buildCluster(c *Cluster, role string, spec *Spec, cs *ClusterSpec, propsFlag, bootFlag string, env LookupEnv) ([]string, error) {
	*c = Cluster{Role: role}
	propsFile, from := propsFlag, "--"+role+"-config"
	if propsFile == "" && cs != nil && cs.PropertiesFile != "" {
		propsFile, from = cs.PropertiesFile, spec.where(role+".properties_file")
	}
	var warnings []string
	if propsFile != "" {
		p, err := LoadProperties(propsFile, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		// Apply's errors name the file and line, which says which cluster.
		if warnings, err = p.Apply(c); err != nil {
			return nil, err
		}
	}
	if cs != nil {
		cs.apply(c)
	}
	if bootFlag != "" {
		var hosts []string
		for h := range strings.SplitSeq(bootFlag, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
		c.Bootstrap = hosts
	}
	c.Role = role
	return warnings, c.Validate()
}

// selection builds a Selection from the spec section and the flag, which
// replaces the include list.
func selection(s *SelectionSpec, flag, name string, spec *Spec) (Selection, error) {
	var include, exclude []string
	if s != nil {
		include, exclude = s.Include, s.Exclude
	}
	if flag != "" {
		include = []string{flag}
	}
	sel, err := NewSelection(include, exclude)
	if err != nil {
		if flag != "" {
			return Selection{}, fmt.Errorf("--%s: %w", name, err)
		}
		return Selection{}, fmt.Errorf("%s: %s: %w", spec.file, name, err)
	}
	return sel, nil
}

// buildTopics combines the spec's topics section with the flags. ParseSpec
// has validated the spec's values; flags are validated here.
func buildTopics(spec *Spec, o Overrides) (Topics, error) {
	ts := spec.Topics
	if ts == nil {
		ts = &TopicsSpec{}
	}
	var errs []error
	sel, err := selection(ts.selection(), o.Topics, "topics", spec)
	if err != nil {
		errs = append(errs, err)
	}
	t := Topics{
		Selection:    sel,
		Prefix:       ts.Prefix,
		Rename:       ts.Rename,
		ReuseEmpty:   ts.ReuseEmpty || o.AllowReuse,
		SyncInterval: DefaultSyncInterval,
	}
	t.ReplicationFactor, _ = checkReplicationFactor(ts.ReplicationFactor) // checked by ParseSpec
	if c := ts.Configs; c != nil {
		t.ConfigsInclude = append([]string(nil), c.Include...)
		t.ConfigsExclude = append([]string(nil), c.Exclude...)
	}
	if ts.SyncInterval != nil {
		t.SyncInterval = *ts.SyncInterval
	}
	if o.TopicPrefix != "" {
		if err := checkPrefix(o.TopicPrefix); err != nil {
			errs = append(errs, fmt.Errorf("--topic-prefix: %w", err))
		}
		// The flag chooses the naming: it replaces a rename template too.
		t.Prefix, t.Rename = o.TopicPrefix, ""
	}
	if o.ReplicationFactor != 0 {
		rf, err := checkReplicationFactor(o.ReplicationFactor)
		if err != nil {
			errs = append(errs, fmt.Errorf("--replication-factor: %w", err))
		}
		t.ReplicationFactor = rf
	}
	if len(errs) > 0 {
		return Topics{}, errors.Join(errs...)
	}
	return t, nil
}

// buildMirror combines DefaultMirror, the spec's mirror section and the
// flags, then checks what depends on more than one field.
func buildMirror(spec *Spec, o Overrides) (Mirror, []string, error) {
	m := DefaultMirror()
	ms := spec.Mirror
	if ms == nil {
		ms = &MirrorSpec{}
	}
	if ms.Start != nil {
		m.Start = *ms.Start
	}
	fallbackFrom := ""
	if ms.StartFallback != "" {
		m.StartFallback, fallbackFrom = ms.StartFallback, spec.where("mirror.start_fallback")
	}
	if ms.Until != "" {
		m.Until = ms.Until
	}
	if ms.Guarantee != "" {
		m.Guarantee = ms.Guarantee
	}
	if ms.TracingHeaders != nil {
		m.TracingHeaders = *ms.TracingHeaders
	}
	budgetFrom := "the default"
	if ms.MemoryBudget != nil {
		m.MemoryBudget, budgetFrom = int64(*ms.MemoryBudget), "mirror.memory_budget"
	}
	if ms.TransactionInterval != nil {
		m.TransactionInterval = *ms.TransactionInterval
	}
	if ms.Compression != "" {
		m.Compression = ms.Compression
	}

	var errs []error
	flag := func(name, v string, parse func(string) error) {
		if v == "" {
			return
		}
		if err := parse(v); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
	}
	flag("start", o.Start, func(s string) (err error) { m.Start, err = ParseStartPosition(s); return })
	flag("start-fallback", o.StartFallback, func(s string) (err error) {
		m.StartFallback, err = ParseStartFallback(s)
		fallbackFrom = "--start-fallback"
		return
	})
	flag("until", o.Until, func(s string) (err error) { m.Until, err = ParseUntil(s); return })
	flag("guarantee", o.Guarantee, func(s string) (err error) { m.Guarantee, err = ParseGuarantee(s); return })
	flag("memory-budget", o.MemoryBudget, func(s string) error {
		b, err := ParseByteSize(s)
		if err == nil {
			err = checkMemoryBudget(int64(b))
		}
		m.MemoryBudget, budgetFrom = int64(b), "--memory-budget"
		return err
	})
	if o.NoTracingHeaders {
		m.TracingHeaders = false
	}
	if len(errs) > 0 {
		return Mirror{}, nil, errors.Join(errs...)
	}

	// The one rule for the transaction bound: TransactionLimit. Left to
	// its default, the bound follows a small budget down.
	limit := TransactionLimit(m.MemoryBudget)
	if ms.TransactionMaxBytes == nil {
		m.TransactionMaxBytes = min(DefaultTransactionMaxBytes, limit)
	} else {
		m.TransactionMaxBytes = int64(*ms.TransactionMaxBytes)
		if m.TransactionMaxBytes > limit {
			return Mirror{}, nil, fmt.Errorf("%s: %v is more than a memory budget of %v (from %s) allows a transaction (a sixth of what is left after %v for the runtime): lower it to at most %v, or raise the budget",
				spec.where("mirror.transaction_max_bytes"), ByteSize(m.TransactionMaxBytes), ByteSize(m.MemoryBudget), budgetFrom, ByteSize(RuntimeOverhead), ByteSize(limit))
		}
	}
	var warnings []string
	if fallbackFrom != "" && m.Start.Kind != StartCommitted {
		warnings = append(warnings, fmt.Sprintf("%s is ignored: it applies only when the start position is committed, and it is %s", fallbackFrom, m.Start))
	}
	return m, warnings, nil
}
