package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Topics says which topics to migrate and how their target topics look.
// Selection (embedded) chooses the source topics; package topics applies
// the rest.
type Topics struct {
	Selection
	// Prefix is put before each source name to make the target name.
	// Prefix and Rename are mutually exclusive.
	Prefix string `json:"prefix,omitempty"`
	// Rename is a template for the target name: "{topic}" stands for the
	// source name, e.g. "migrated.{topic}".
	Rename string `json:"rename,omitempty"`
	// ReplicationFactor is the target topics' replication factor; 0 means
	// the target cluster's default.
	ReplicationFactor int16 `json:"replication_factor,omitempty"`
	// ReuseEmpty allows an existing, empty target topic with the source's
	// partition count to be used instead of creating one.
	ReuseEmpty bool `json:"reuse_empty"`
	// ConfigsInclude names topic configs to copy beyond the default allow
	// list; ConfigsExclude names configs never to copy (it wins).
	ConfigsInclude []string `json:"configs_include,omitempty"`
	ConfigsExclude []string `json:"configs_exclude,omitempty"`
	// SyncInterval is how often continuous mirroring re-syncs partition
	// counts and configs, at least MinSyncInterval.
	SyncInterval time.Duration `json:"sync_interval"`
}

// Topics defaults and limits.
const (
	DefaultSyncInterval = 30 * time.Second
	// MinSyncInterval keeps the metadata and config requests of a sync
	// from loading the clusters.
	MinSyncInterval = time.Second
)

// TopicPlaceholder stands for the source topic name in Topics.Rename.
const TopicPlaceholder = "{topic}"

// TargetName returns the target topic name for a source topic.
func (t Topics) TargetName(source string) string {
	switch {
	case t.Rename != "":
		return strings.ReplaceAll(t.Rename, TopicPlaceholder, source)
	default:
		return t.Prefix + source
	}
}

// MaxTopicName is Kafka's limit on the length of a topic name.
const MaxTopicName = 249

var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// CheckTopicName reports whether name is a legal Kafka topic name:
// letters, digits, '.', '_' and '-', at most 249 characters, and not "."
// or "..".
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("a topic name must not be empty")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a legal topic name", name)
	case len(name) > MaxTopicName:
		return fmt.Errorf("topic name %q is %d characters long: Kafka allows %d", name, len(name), MaxTopicName)
	case !topicNameRE.MatchString(name):
		return fmt.Errorf("topic name %q may hold only letters, digits, '.', '_' and '-'", name)
	}
	return nil
}

// reservedPrefix starts the names of Kafka's and tools' internal topics,
// kmigrate's own state among them.
const reservedPrefix = "__"

// checkPrefix and checkRename validate the naming of target topics. The
// fixed text they add must itself be legal in a topic name, leave room for
// at least one character of the source name, and not make every target
// name look internal.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !topicNameRE.MatchString(prefix) {
		return fmt.Errorf("%q may hold only letters, digits, '.', '_' and '-', as topic names do", prefix)
	}
	if len(prefix) >= MaxTopicName {
		return fmt.Errorf("%q leaves no room for the source name within Kafka's %d characters", prefix, MaxTopicName)
	}
	if strings.HasPrefix(prefix, reservedPrefix) {
		return fmt.Errorf("%q would make every target name start with %q, which is reserved for Kafka's and tools' internal topics (kmigrate keeps its state in __kmigrate-*)", prefix, reservedPrefix)
	}
	return nil
}

func checkRename(tmpl string) error {
	if tmpl == "" {
		return nil
	}
	if !strings.Contains(tmpl, TopicPlaceholder) {
		return fmt.Errorf("%q does not contain %s: every source topic would get the same target name; write e.g. \"migrated.%s\"", tmpl, TopicPlaceholder, TopicPlaceholder)
	}
	fixed := strings.ReplaceAll(tmpl, TopicPlaceholder, "")
	if strings.ContainsAny(fixed, "{}") {
		return fmt.Errorf("%q: the only placeholder is %s", tmpl, TopicPlaceholder)
	}
	if fixed != "" && !topicNameRE.MatchString(fixed) {
		return fmt.Errorf("%q may hold only %s, letters, digits, '.', '_' and '-', as topic names do", tmpl, TopicPlaceholder)
	}
	if n := strings.Count(tmpl, TopicPlaceholder); len(fixed)+n > MaxTopicName {
		return fmt.Errorf("%q leaves no room for the source name within Kafka's %d characters", tmpl, MaxTopicName)
	}
	if strings.HasPrefix(tmpl, reservedPrefix) {
		return fmt.Errorf("%q would make every target name start with %q, which is reserved for Kafka's and tools' internal topics (kmigrate keeps its state in __kmigrate-*)", tmpl, reservedPrefix)
	}
	return nil
}

var configNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// checkConfigNames validates topics.configs.include and exclude: names,
// not patterns, and none in both lists. It calls report with the field
// path of each bad entry.
func checkConfigNames(include, exclude []string, report func(path string, err error)) {
	for _, l := range []struct {
		name  string
		names []string
	}{{"include", include}, {"exclude", exclude}} {
		for i, n := range l.names {
			if !configNameRE.MatchString(n) {
				report(fmt.Sprintf("topics.configs.%s[%d]", l.name, i), fmt.Errorf("%q is not a topic config name (names such as retention.ms, not patterns)", n))
			}
		}
	}
	for i, m := range exclude {
		if slices.Contains(include, m) {
			report(fmt.Sprintf("topics.configs.exclude[%d]", i), fmt.Errorf("%q is both included and excluded: keep one", m))
		}
	}
}

// checkReplicationFactor validates a replication factor from the spec or
// a flag: -1 or 0 mean the target's default.
func checkReplicationFactor(rf int) (int16, error) {
	switch {
	case rf == -1 || rf == 0:
		return 0, nil
	case rf < -1 || rf > 1<<15-1:
		return 0, fmt.Errorf("%d is not a replication factor: use a positive number, or leave it out (or -1) for the target cluster's default", rf)
	}
	return int16(rf), nil
}
