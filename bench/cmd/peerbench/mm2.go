package main

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MM2Version is the connect-mirror release kafka/fetch resolves
// (kafka/connect-mirror/<version>/pom.xml). 4.4.0 is not served by the
// Maven Central mirror here; 4.3.1 is the newest that is.
const MM2Version = "4.3.1"

// mm2JVMOpts are the JVM options connect-mirror-maker.sh runs MM2 with
// (KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS).
var mm2JVMOpts = []string{
	"-Xms256M", "-Xmx2G",
	"-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
	"-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
}

// mm2Lib is where `kafka/fetch connect-mirror` puts MM2's jars.
func mm2Lib() (string, error) {
	d := os.Getenv("KMIGRATE_MM2_CACHE")
	if d == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		d = filepath.Join(c, "kmigrate", "connect-mirror")
	}
	lib := filepath.Join(d, MM2Version, "lib")
	if _, err := os.Stat(filepath.Join(lib, "connect-mirror-"+MM2Version+".jar")); err != nil {
		return "", fmt.Errorf("MirrorMaker 2 %s not fetched (%w): run `kafka/fetch connect-mirror` (make bench-peers does)", MM2Version, err)
	}
	return lib, nil
}

// mm2Mode is one way of running MM2.
type mm2Mode struct {
	// EOS turns on exactly-once source support (KIP-618) on the target.
	EOS bool
	// LagMax is offset.lag.max; 0 leaves MM2's default (100).
	LagMax int
	// LagMaxSet is true when LagMax is given, even if 0.
	LagMaxSet bool
}

// mm2Props returns the mm2.properties of one MM2 run: clusters with the
// aliases src and tgt (aliases name MM2's own topics, so each run gets
// fresh ones by its alias suffix), replicating topics and groups matching
// the regexes, with IdentityReplicationPolicy so that the target topic has
// the source's name, as a migration needs.
func mm2Props(suffix string, src, tgt []string, topics, groups string, m mm2Mode, restPort int) map[string]string {
	s, t := "src"+suffix, "tgt"+suffix
	p := map[string]string{
		"clusters":                    s + ", " + t,
		s + ".bootstrap.servers":      strings.Join(src, ","),
		t + ".bootstrap.servers":      strings.Join(tgt, ","),
		s + "->" + t + ".enabled":     "true",
		t + "->" + s + ".enabled":     "false",
		s + "->" + t + ".topics":      topics,
		s + "->" + t + ".groups":      groups,
		"replication.policy.class":    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
		"offset-syncs.topic.location": "target",
		// Groups: translate and write offsets into idle target groups
		// often, so that a move can wait for the next sync.
		"sync.group.offsets.enabled":          "true",
		"sync.group.offsets.interval.seconds": "1",
		"emit.checkpoints.enabled":            "true",
		"emit.checkpoints.interval.seconds":   "1",
		"emit.heartbeats.interval.seconds":    "1",
		"refresh.topics.interval.seconds":     "5",
		"refresh.groups.interval.seconds":     "5",
		"sync.topic.configs.enabled":          "true",
		"sync.topic.acls.enabled":             "false",
		// The docs' tuning: more tasks than the default 1 (one per core
		// here), and the pair's single brokers need replication factor 1.
		"tasks.max":                              "2",
		"replication.factor":                     "1",
		"checkpoints.topic.replication.factor":   "1",
		"heartbeats.topic.replication.factor":    "1",
		"offset-syncs.topic.replication.factor":  "1",
		"config.storage.replication.factor":      "1",
		"offset.storage.replication.factor":      "1",
		"status.storage.replication.factor":      "1",
		t + ".config.storage.replication.factor": "1",
		t + ".offset.storage.replication.factor": "1",
		t + ".status.storage.replication.factor": "1",
	}
	if m.LagMaxSet {
		p["offset.lag.max"] = fmt.Sprint(m.LagMax)
	}
	if m.EOS {
		maps.Copy(p, map[string]string{
			t + ".exactly.once.source.support":    "enabled",
			"dedicated.mode.enable.internal.rest": "true",
			"listeners":                           fmt.Sprintf("http://127.0.0.1:%d", restPort),
		})
	}
	return p
}

// formatProps writes properties sorted by key.
func formatProps(p map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%s = %s\n", k, p[k])
	}
	return b.String()
}

// mm2Log4j logs MM2 at INFO to a file in its folder (${sys:mm2.log}).
const mm2Log4j = `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:mm2.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
`

// mm2Command writes the run's files into dir and returns MM2's command line.
func mm2Command(dir, lib string, props map[string]string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "mm2.properties")
	logCfg := filepath.Join(dir, "log4j2.properties")
	if err := os.WriteFile(cfg, []byte(formatProps(props)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(logCfg, []byte(mm2Log4j), 0o644); err != nil {
		return nil, err
	}
	args := append([]string{"java"}, mm2JVMOpts...)
	args = append(args, "-Dlog4j2.configurationFile="+logCfg, "-Dmm2.log="+filepath.Join(dir, "mm2.log"),
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.mirror.MirrorMaker", cfg)
	return args, nil
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
