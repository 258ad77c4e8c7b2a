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
	// Topics and Groups select the topics and consumer groups to migrate.
	Topics Selection `json:"topics"`
	Groups Selection `json:"groups"`
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
	if cfg.Topics, err = selection(spec.Topics, o.Topics, "topics", spec); err != nil {
		errs = append(errs, err)
	}
	if cfg.Groups, err = selection(spec.Groups, o.Groups, "groups", spec); err != nil {
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
