package realkafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SASLSSL makes a cluster's client listener SASL_SSL with SCRAM-SHA-512,
// optionally with ACLs enforced by the StandardAuthorizer (KRaft) or the
// AclAuthorizer (ZooKeeper, Kafka 3.x).
// Brokers talk to each other (and Ready checks them) over a separate
// PLAINTEXT listener on loopback, whose ANONYMOUS principal is a super user,
// so the security under test is the clients' only.
type SASLSSL struct {
	// CAFile, CertFile and KeyFile are PEM files: the CA clients trust, and
	// the brokers' certificate (valid for 127.0.0.1) and unencrypted
	// PKCS#8 key. kafkatest.GenerateTLS writes such files.
	CAFile, CertFile, KeyFile string
	// Users are SCRAM-SHA-512 credentials (name -> password) added when
	// the storage is formatted.
	Users map[string]string
	// Authorizer turns on ACLs; SuperUsers (user names) bypass them.
	Authorizer bool
	SuperUsers []string
}

// Mechanism is the SASL mechanism SASLSSL clusters enable.
const Mechanism = "SCRAM-SHA-512"

// securityProps returns the broker properties for s, writing the PEM
// keystore Kafka wants (key and certificate in one file) into dir.
func (s *SASLSSL) securityProps(b *Broker, ctrl, dir string) (map[string]string, error) {
	key, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(s.CertFile)
	if err != nil {
		return nil, err
	}
	keystore := filepath.Join(dir, "keystore.pem")
	if err := os.WriteFile(keystore, append(append(key, '\n'), cert...), 0o600); err != nil {
		return nil, err
	}
	p := map[string]string{
		"listeners":                                             fmt.Sprintf("SASL_SSL://%s,INTERNAL://%s,CONTROLLER://%s", b.Addr, b.internalAddr, ctrl),
		"advertised.listeners":                                  fmt.Sprintf("SASL_SSL://%s,INTERNAL://%s", b.Addr, b.internalAddr),
		"listener.security.protocol.map":                        "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":                            "INTERNAL",
		"sasl.enabled.mechanisms":                               "SCRAM-SHA-256," + Mechanism,
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"ssl.keystore.type":                                     "PEM",
		"ssl.keystore.location":                                 keystore,
		"ssl.truststore.type":                                   "PEM",
		"ssl.truststore.location":                               s.CAFile,
		"ssl.client.auth":                                       "none",
	}
	if ctrl == "" { // ZooKeeper
		p["listeners"] = fmt.Sprintf("SASL_SSL://%s,INTERNAL://%s", b.Addr, b.internalAddr)
		p["listener.security.protocol.map"] = "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT"
	}
	if s.Authorizer {
		supers := []string{"User:ANONYMOUS"}
		for _, u := range s.SuperUsers {
			supers = append(supers, "User:"+u)
		}
		p["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
		if ctrl == "" {
			p["authorizer.class.name"] = "kafka.security.authorizer.AclAuthorizer"
		}
		p["super.users"] = strings.Join(supers, ";")
	}
	return p, nil
}

// addUsers creates s.Users on a running ZooKeeper cluster (KRaft clusters
// get them when formatted), through its PLAINTEXT internal listener.
func (s *SASLSSL) addUsers(ctx context.Context, internal []string) error {
	if len(s.Users) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(internal...))
	if err != nil {
		return err
	}
	defer cl.Close()
	var ups []kadm.UpsertSCRAM
	for u, pw := range s.Users {
		ups = append(ups, kadm.UpsertSCRAM{User: u, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: pw})
	}
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, ups)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("realkafka: add SCRAM users: %w", err)
	}
	return nil
}

// scramArgs are StorageTool format's --add-scram arguments for s.Users.
func (s *SASLSSL) scramArgs() []string {
	names := make([]string, 0, len(s.Users))
	for n := range s.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	var args []string
	for _, n := range names {
		for _, m := range []string{"SCRAM-SHA-256", Mechanism} {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", m, n, s.Users[n]))
		}
	}
	return args
}
