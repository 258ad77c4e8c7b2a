package realkafka

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The versions the lane uses, each with a kafka/<version>/pom.xml.
const (
	// ZooKeeperVersion is the last Kafka line with ZooKeeper mode, which
	// most clusters being migrated from still run.
	ZooKeeperVersion = "3.9.1"
	// KRaftVersion is the newest Kafka served to this project: KRaft only,
	// new clusters formatted with transaction.version=2 (KIP-890).
	KRaftVersion = "4.4.0"
)

// EnvCache names the folder holding the resolved distributions,
// <cache>/<version>/lib/*.jar.
const EnvCache = "KMIGRATE_KAFKA_CACHE"

// ErrNotFetched is returned when a version's jars are not in the cache.
var ErrNotFetched = errors.New("kafka distribution not fetched")

// CacheDir is where kafka/fetch puts the jars: $KMIGRATE_KAFKA_CACHE, or
// kmigrate/kafka under the user's cache folder.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "kmigrate", "kafka")
}

// classpath returns the version's runtime classpath from the cache.
func classpath(version string) (string, error) {
	dir := filepath.Join(CacheDir(), version, "lib")
	jars, _ := filepath.Glob(filepath.Join(dir, "*.jar"))
	if !hasKafka(jars, version) {
		return "", fmt.Errorf("%w: no kafka_2.13-%s.jar in %s; run kafka/fetch %s (Maven resolves it from kafka/%s/pom.xml)", ErrNotFetched, version, dir, version, version)
	}
	sort.Strings(jars)
	return strings.Join(jars, string(os.PathListSeparator)), nil
}

func hasKafka(jars []string, version string) bool {
	for _, j := range jars {
		if filepath.Base(j) == "kafka_2.13-"+version+".jar" {
			return true
		}
	}
	return false
}

// kraft tells whether version runs in KRaft mode: Kafka 4 removed
// ZooKeeper, and the lane runs 3.x with ZooKeeper on purpose.
func kraft(version string) bool {
	return !strings.HasPrefix(version, "3.") && !strings.HasPrefix(version, "2.")
}

// JavaCommand returns a command line running mainClass from the version's
// classpath (a Java tool such as the console consumer) with small-JVM
// options, followed by args.
func JavaCommand(version, mainClass string, args ...string) ([]string, error) {
	cp, err := classpath(version)
	if err != nil {
		return nil, err
	}
	cmd := []string{"java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
		"-Dlog4j2.level=WARN", "-cp", cp, mainClass}
	return append(cmd, args...), nil
}
