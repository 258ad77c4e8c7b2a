package topics

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/config"
)

// portable lists the topic configs copied by default: those every Kafka
// release since 2.x, and Kafka-compatible brokers, understand with the same
// meaning, and that describe the data rather than the brokers holding it.
// topics.configs.include adds to it; topics.configs.exclude removes from
// it.
var portable = map[string]bool{
	"cleanup.policy":                 true,
	"compression.type":               true,
	"delete.retention.ms":            true,
	"file.delete.delay.ms":           true,
	"flush.messages":                 true,
	"flush.ms":                       true,
	"index.interval.bytes":           true,
	"max.compaction.lag.ms":          true,
	"max.message.bytes":              true,
	"message.timestamp.after.max.ms": true,
	"message.timestamp.type":         true,
	"min.cleanable.dirty.ratio":      true,
	"min.compaction.lag.ms":          true,
	"min.insync.replicas":            true,
	"preallocate":                    true,
	"retention.bytes":                true,
	"retention.ms":                   true,
	"segment.bytes":                  true,
	"segment.index.bytes":            true,
	"segment.jitter.ms":              true,
	"segment.ms":                     true,
	"unclean.leader.election.enable": true,
}

// PortableConfigs returns the topic configs copied by default, sorted.
func PortableConfigs() []string {
	return slices.Sorted(maps.Keys(portable))
}

// Dropped is a source topic config that is not copied, and why. Reason
// never quotes the value: the plan prints reasons, and values belong in
// Value, which is empty for sensitive configs.
type Dropped struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// Filtered is what FilterConfigs decided for one source topic.
type Filtered struct {
	// Configs are the configs to set on the target topic.
	Configs map[string]string
	// Dropped are the configs not copied, sorted by key: those set on
	// the topic that are not portable or are excluded, and portable ones
	// the topic inherits from the source brokers' configuration (the
	// target will apply its own default instead).
	Dropped []Dropped
	// Warnings are about configs that are copied but change how the
	// mirrored data looks.
	Warnings []string
}

// noLimit is Long.MAX_VALUE, Kafka's "no limit" for timestamp bounds.
const noLimit = "9223372036854775807"

// FilterConfigs decides which of a source topic's configs the target topic
// gets. Only configs set on the topic itself (source DYNAMIC_TOPIC_CONFIG)
// are copied: defaults and broker-level settings belong to the source
// cluster, and copying them would pin the target topic to values its own
// cluster never chose. Of those, the portable ones and t.ConfigsInclude
// are copied, minus t.ConfigsExclude.
func FilterConfigs(rc kadm.ResourceConfig, t config.Topics) Filtered {
	f := Filtered{Configs: map[string]string{}}
	for _, c := range rc.Configs {
		switch c.Source {
		case kmsg.ConfigSourceDynamicTopicConfig:
		case kmsg.ConfigSourceDynamicBrokerConfig, kmsg.ConfigSourceDynamicDefaultBrokerConfig, kmsg.ConfigSourceStaticBrokerConfig:
			if copyable(c.Key, t) {
				f.Dropped = append(f.Dropped, Dropped{c.Key, value(c), fmt.Sprintf("inherited from the source brokers' %s, not set on the topic: the target topic gets the target cluster's default", brokerKey(c))})
			}
			continue
		default:
			continue
		}
		switch {
		case c.Sensitive || c.Value == nil:
			f.Dropped = append(f.Dropped, Dropped{c.Key, "", "its value cannot be read (sensitive)"})
		case copyable(c.Key, t):
			f.Configs[c.Key] = *c.Value
		default:
			f.Dropped = append(f.Dropped, Dropped{c.Key, *c.Value, dropReason(c.Key, t)})
		}
	}
	slices.SortFunc(f.Dropped, func(a, b Dropped) int { return strings.Compare(a.Key, b.Key) })
	if strings.EqualFold(f.Configs["message.timestamp.type"], "LogAppendTime") {
		f.Warnings = append(f.Warnings, "message.timestamp.type=LogAppendTime is copied: the target will stamp mirrored records with its own append time instead of keeping the source's timestamps; to keep them, exclude it with topics.configs.exclude and set it on the target after cutover")
	}
	return f
}

// copyable reports whether key is a config kmigrate manages on target
// topics: copied when set on the source topic, and (by SyncConfigs)
// removed from the target when removed from the source.
func copyable(key string, t config.Topics) bool {
	if slices.Contains(t.ConfigsExclude, key) {
		return false
	}
	return portable[key] || slices.Contains(t.ConfigsInclude, key)
}

func value(c kadm.Config) string {
	if c.Sensitive || c.Value == nil {
		return ""
	}
	return *c.Value
}

// brokerKey names the broker setting a topic config inherits, from its
// synonyms ("log.retention.hours"), or "configuration".
func brokerKey(c kadm.Config) string {
	for _, s := range c.Synonyms {
		if s.Source == c.Source && s.Key != c.Key {
			return s.Key
		}
	}
	return "configuration"
}

var tieredStorage = map[string]bool{
	"remote.storage.enable":        true,
	"local.retention.ms":           true,
	"local.retention.bytes":        true,
	"remote.log.copy.disable":      true,
	"remote.log.delete.on.disable": true,
}

// dropReason says why an explicitly set config that is not copyable is
// dropped, and how to copy it anyway when that makes sense.
func dropReason(key string, t config.Topics) string {
	const include = ": copy it with topics.configs.include if the target supports it"
	switch {
	case slices.Contains(t.ConfigsExclude, key):
		return "excluded by topics.configs.exclude"
	case key == "message.timestamp.difference.max.ms" || key == "message.timestamp.before.max.ms":
		return "it would make the target reject mirrored records older than the limit: set it on the target after cutover, or copy it with topics.configs.include"
	case key == "leader.replication.throttled.replicas" || key == "follower.replication.throttled.replicas":
		return "broker-specific: replication throttles name the source's broker ids"
	case key == "confluent.placement.constraints":
		return "broker-specific: replica placement names the source's racks"
	case key == "message.format.version":
		return "deprecated: message.format.version is ignored since Kafka 3.0 and removed in 4.0"
	case key == "message.downconversion.enable":
		return "deprecated: message.downconversion.enable does nothing since Kafka 4.0"
	case tieredStorage[key]:
		return "tiered storage (" + key + ") may not exist on the target" + include
	case strings.HasPrefix(key, "compression.") && strings.HasSuffix(key, ".level"):
		return "needs Kafka 3.8 or later on the target" + include
	case strings.HasPrefix(key, "confluent."):
		return "vendor-specific (confluent.*)" + include
	case strings.HasPrefix(key, "redpanda."):
		return "vendor-specific (redpanda.*)" + include
	}
	return "not a portable topic config" + include
}

// targetWarnings looks at the configs a target topic will have (ours, over
// what the target reports) for settings that change or reject mirrored
// records. have may be nil when nothing is known about the target.
func targetWarnings(ours map[string]string, have map[string]kadm.Config, t config.Topics) []string {
	get := func(key string) (string, bool) {
		if v, ok := ours[key]; ok {
			return v, true
		}
		c, ok := have[key]
		if !ok {
			return "", false
		}
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && copyable(key, t) {
			// Aligning the configs deletes it; the next synonym, a
			// broker default, takes over.
			for _, s := range c.Synonyms {
				if s.Source != kmsg.ConfigSourceDynamicTopicConfig && s.Value != nil {
					return *s.Value, true
				}
			}
			return "", false
		}
		if c.Value == nil {
			return "", false
		}
		return *c.Value, true
	}
	var warnings []string
	tsType, _ := get("message.timestamp.type")
	if strings.EqualFold(tsType, "LogAppendTime") {
		if _, copied := ours["message.timestamp.type"]; !copied {
			warnings = append(warnings, "the target topic has message.timestamp.type=LogAppendTime: mirrored records will carry the target's append time, not the source's timestamps")
		}
		return warnings
	}
	for _, key := range []string{"message.timestamp.before.max.ms", "message.timestamp.difference.max.ms"} {
		v, ok := get(key)
		if !ok || v == noLimit {
			continue
		}
		limit := v + " ms"
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms < int64(1<<63-1)/int64(time.Millisecond) {
			limit = (time.Duration(ms) * time.Millisecond).String()
		}
		warnings = append(warnings, fmt.Sprintf("the target topic has %s=%s: it will reject mirrored records with timestamps more than %s old; raise it on the target before mirroring older data", key, v, limit))
	}
	return warnings
}

// configMap indexes a resource's configs by key.
func configMap(rc *kadm.ResourceConfig) map[string]kadm.Config {
	if rc == nil {
		return nil
	}
	m := make(map[string]kadm.Config, len(rc.Configs))
	for _, c := range rc.Configs {
		m[c.Key] = c
	}
	return m
}

// configDiff returns the changes that make a target topic's managed
// configs equal want: keys to set (absent, or set to another value on the
// topic) and keys to delete (set on the topic but not wanted). Keys that
// kmigrate does not manage (see copyable) are left alone.
func configDiff(want map[string]string, have map[string]kadm.Config, t config.Topics) (set map[string]string, del []string) {
	set = map[string]string{}
	for k, v := range want {
		c, ok := have[k]
		if ok && c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil && *c.Value == v {
			continue
		}
		set[k] = v
	}
	for k, c := range have {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig || !copyable(k, t) {
			continue
		}
		if _, ok := want[k]; !ok {
			del = append(del, k)
		}
	}
	slices.Sort(del)
	return set, del
}
