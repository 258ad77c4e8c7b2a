package realkafka

import (
	"os"
	"path/filepath"
)

// Kafka 3.9 logs through reload4j (log4j 1 properties), Kafka 4 through
// log4j2; neither POM brings a backend, kafka/<version>/pom.xml adds it.
// Every node logs to server.log in its own folder (kafka.logs.dir); the
// per-request and state-change loggers are quiet because a test never
// reads them and they cost CPU on a small machine.
const log4jProps = `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
`

const log4j2Props = `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
`

// writeLogConfig writes the version's logging configuration into dir and
// returns the JVM flags that select it.
func writeLogConfig(dir, version string) ([]string, error) {
	if kraft(version) {
		path := filepath.Join(dir, "log4j2.properties")
		return []string{"-Dlog4j2.configurationFile=" + path}, os.WriteFile(path, []byte(log4j2Props), 0o644)
	}
	path := filepath.Join(dir, "log4j.properties")
	return []string{"-Dlog4j.configuration=file:" + path}, os.WriteFile(path, []byte(log4jProps), 0o644)
}

// logArgs are the logging flags for a node whose folder is dir.
func logArgs(logCfg []string, dir string) []string {
	return append(append([]string{}, logCfg...), "-Dkafka.logs.dir="+dir)
}
