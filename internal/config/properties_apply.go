package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Apply maps the properties onto c, in either dialect (Java client or
// librdkafka), overriding only the fields the file sets. It returns
// warnings for keys kmigrate ignores and an error, naming the file, line and
// key, for anything it cannot honour. c is changed only when err is nil.
//
// The rules, and why:
//
//   - A security key (ssl.*, sasl.*, security.*, and a few others) that
//     kmigrate does not implement is an error: ignoring it would connect with
//     weaker security than the file asks for.
//   - Any other unknown key (acks, linger.ms, group.id, ...) is a warning:
//     it tunes a client kmigrate configures itself.
//   - Two keys that set the same thing to different values (sasl.username
//     and the username in sasl.jaas.config, ssl.ca.location and
//     ssl.truststore.location) are an error, whichever dialect they are from.
//   - Empty values count as unset, except ssl.endpoint.identification.algorithm
//     where empty means "no hostname verification".
//   - Relative paths resolve against the file's directory.
//
// Secret values never appear in messages.
func (p Properties) Apply(c *Cluster) (warnings []string, err error) {
	a := applier{p: p, warnings: append([]warning(nil), p.warnings...)}
	a.fields = [...]field{
		fBootstrap:  {what: "bootstrap servers"},
		fProtocol:   {what: "security protocols"},
		fMechanism:  {what: "SASL mechanisms"},
		fUsername:   {what: "SASL usernames"},
		fPassword:   {what: "SASL passwords", secret: true},
		fCAFile:     {what: "CA files"},
		fCAPEM:      {what: "inline CA certificates"},
		fCertFile:   {what: "client certificate files"},
		fCertPEM:    {what: "inline client certificates"},
		fKeyFile:    {what: "client key files"},
		fKeyPEM:     {what: "inline client keys", secret: true},
		fServerName: {what: "TLS server names"},
		fClientID:   {what: "client ids"},
	}
	for _, e := range p.entries {
		a.entry(e)
	}
	a.finish()
	// Report in file order, though some checks run after the loop.
	if len(a.errs) > 0 {
		slices.SortStableFunc(a.errs, func(x, y lineError) int { return x.line - y.line })
		errs := make([]error, len(a.errs))
		for i, e := range a.errs {
			errs[i] = e.err
		}
		return nil, errors.Join(errs...)
	}
	a.assign(c)
	slices.SortStableFunc(a.warnings, func(x, y warning) int { return x.line - y.line })
	for _, w := range a.warnings {
		warnings = append(warnings, w.msg)
	}
	return warnings, nil
}

// lineError is an error with the line it is about, for sorting.
type lineError struct {
	line int
	err  error
}

// The Cluster settings a properties file can set, each possibly from
// several keys.
const (
	fBootstrap = iota
	fProtocol
	fMechanism
	fUsername
	fPassword
	fCAFile
	fCAPEM
	fCertFile
	fCertPEM
	fKeyFile
	fKeyPEM
	fServerName
	fClientID
	numFields
)

// field is one setting and the key that set it.
type field struct {
	what   string // plural, for "set different ..."
	secret bool
	set    bool
	value  string
	from   property
}

type applier struct {
	p        Properties
	fields   [numFields]field
	errs     []lineError
	warnings []warning
	// Collected for finish, which needs them together.
	jaas, trustLoc, trustType, keyLoc, keyType *property
	protocolInFile                             bool
	insecure                                   []property // keys that turned verification off
}

func (a *applier) errorf(e property, format string, args ...any) {
	a.errs = append(a.errs, lineError{e.line, fmt.Errorf("%s:%d: %s: %s", a.p.name, e.line, keyForMessage(e.key), fmt.Sprintf(format, args...))})
}

func (a *applier) warnf(e property, format string, args ...any) {
	a.warnings = append(a.warnings, warning{e.line, fmt.Sprintf("%s:%d: %s %s", a.p.name, e.line, keyForMessage(e.key), fmt.Sprintf(format, args...))})
}

// set records that e sets field f to v; a different value from another key
// is a conflict.
func (a *applier) set(f int, v string, e property) {
	fl := &a.fields[f]
	if fl.set && fl.value != v {
		vals := ""
		if !fl.secret {
			vals = fmt.Sprintf(" (%q and %q)", shorten(fl.value), shorten(v))
		}
		a.errs = append(a.errs, lineError{e.line, fmt.Errorf("%s:%d: %s and %s (line %d) set different %s%s: keep one",
			a.p.name, e.line, e.key, fl.from.key, fl.from.line, fl.what, vals)})
		return
	}
	if !fl.set {
		fl.set, fl.value, fl.from = true, v, e
	}
}

// shorten cuts a long value (inline PEM) for a message.
func shorten(v string) string {
	if r := []rune(v); len(r) > 80 {
		return string(r[:40]) + "..."
	}
	return v
}

// keyHandlers maps every key kmigrate understands to what it does. Keys
// from both dialects map onto the same fields; see docs/configuration.md.
var keyHandlers = map[string]func(a *applier, e property){
	"bootstrap.servers":    (*applier).bootstrap,
	"metadata.broker.list": (*applier).bootstrap, // librdkafka's alias
	"security.protocol": func(a *applier, e property) {
		p, err := ParseSecurityProtocol(e.value)
		if err != nil {
			a.errorf(e, "%v", err)
			return
		}
		a.protocolInFile = true
		a.set(fProtocol, string(p), e)
	},
	"sasl.mechanism":  (*applier).mechanism,
	"sasl.mechanisms": (*applier).mechanism, // librdkafka's spelling
	"sasl.username":   func(a *applier, e property) { a.set(fUsername, e.value, e) },
	"sasl.password":   func(a *applier, e property) { a.set(fPassword, e.value, e) },
	"sasl.jaas.config": func(a *applier, e property) {
		a.jaas = &e
	},
	"ssl.truststore.location": func(a *applier, e property) { a.trustLoc = &e },
	"ssl.truststore.type":     func(a *applier, e property) { a.trustType = &e },
	"ssl.keystore.location":   func(a *applier, e property) { a.keyLoc = &e },
	"ssl.keystore.type":       func(a *applier, e property) { a.keyType = &e },
	// Store passwords protect JKS and PKCS12 files, which are refused
	// anyway; a PEM store has none.
	"ssl.truststore.password": func(*applier, property) {},
	"ssl.keystore.password":   func(*applier, property) {},
	"ssl.key.password": func(a *applier, e property) {
		a.errorf(e, "encrypted private keys are not supported: decrypt the key with `openssl pkey -in KEY -out key.pem`, keep key.pem private, point ssl.key.location (or ssl.keystore.location) at it and remove ssl.key.password")
	},
	"ssl.truststore.certificates":    func(a *applier, e property) { a.set(fCAPEM, e.value, e) },
	"ssl.ca.pem":                     func(a *applier, e property) { a.set(fCAPEM, e.value, e) },
	"ssl.keystore.certificate.chain": func(a *applier, e property) { a.set(fCertPEM, e.value, e) },
	"ssl.certificate.pem":            func(a *applier, e property) { a.set(fCertPEM, e.value, e) },
	"ssl.keystore.key":               func(a *applier, e property) { a.set(fKeyPEM, e.value, e) },
	"ssl.key.pem":                    func(a *applier, e property) { a.set(fKeyPEM, e.value, e) },
	"ssl.ca.location": func(a *applier, e property) {
		if e.value == "probe" {
			return // librdkafka: probe the system's CA locations, our default
		}
		a.set(fCAFile, a.p.resolvePath(e.value), e)
	},
	"ssl.certificate.location": func(a *applier, e property) { a.set(fCertFile, a.p.resolvePath(e.value), e) },
	"ssl.key.location":         func(a *applier, e property) { a.set(fKeyFile, a.p.resolvePath(e.value), e) },
	"ssl.endpoint.identification.algorithm": func(a *applier, e property) {
		switch strings.ToLower(e.value) {
		case "https":
		case "", "none":
			a.insecure = append(a.insecure, e)
		default:
			a.errorf(e, "unknown value %q: want https (verify the broker hostname) or none", e.value)
		}
	},
	"enable.ssl.certificate.verification": func(a *applier, e property) {
		switch strings.ToLower(e.value) {
		case "true", "1":
		case "false", "0":
			a.insecure = append(a.insecure, e)
		default:
			a.errorf(e, "want true or false, not %q", e.value)
		}
	},
	"ssl.protocol": func(a *applier, e property) {
		// Java's default is TLSv1.3, and TLSv1.2 is common in older files.
		// Neither restricts what the client negotiates; kmigrate negotiates
		// TLS 1.2 or 1.3 too. Older protocols are refused.
		switch strings.ToUpper(e.value) {
		case "TLS", "TLSV1.2", "TLSV1.3":
		default:
			a.errorf(e, "%q is not supported: kmigrate speaks TLS 1.2 and 1.3; remove the key or set TLSv1.3", e.value)
		}
	},
	"client.id": func(a *applier, e property) { a.set(fClientID, e.value, e) },
	// Java files that read secrets with ${env:NAME} declare the provider;
	// kmigrate expands ${env:NAME} itself, so these need no warning.
	"config.providers": func(a *applier, e property) {
		for p := range strings.SplitSeq(e.value, ",") {
			if p = strings.TrimSpace(p); p != "env" && p != "" {
				a.warnf(e, "declares provider %q, which kmigrate does not have: only ${env:NAME} (and ${NAME}) are expanded", p)
			}
		}
	},
	"config.providers.env.class": func(*applier, property) {},
	// kmigrate.ssl.server.name is kmigrate's own key: the name to verify
	// broker certificates against (and send as SNI) when it differs from
	// the bootstrap host, as behind a load balancer or an SSH tunnel.
	"kmigrate.ssl.server.name": func(a *applier, e property) { a.set(fServerName, e.value, e) },
}

// emptyMeans lists the keys for which an empty value means something.
var emptyMeans = map[string]bool{"ssl.endpoint.identification.algorithm": true}

func (a *applier) entry(e property) {
	if h, ok := keyHandlers[e.key]; ok {
		if e.value == "" && !emptyMeans[e.key] {
			return
		}
		h(a, e)
		return
	}
	switch {
	case strings.HasPrefix(e.key, "kmigrate."):
		a.errorf(e, "unknown kmigrate key: the only one is kmigrate.ssl.server.name")
	case isSecurityKey(e.key):
		a.errorf(e, "kmigrate cannot honour this security setting, and refuses to connect with weaker security than the file asks for: remove it, or connect with settings kmigrate supports (see docs/configuration.md)")
	default:
		a.warnf(e, "is ignored by kmigrate")
	}
}

func (a *applier) bootstrap(e property) {
	var hosts []string
	for h := range strings.SplitSeq(e.value, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		a.errorf(e, "lists no servers: want host:port[,host:port...]")
		return
	}
	a.set(fBootstrap, strings.Join(hosts, ","), e)
}

func (a *applier) mechanism(e property) {
	m, err := ParseMechanism(e.value)
	if err != nil {
		a.errorf(e, "%v", err)
		return
	}
	a.set(fMechanism, string(m), e)
}

// isSecurityKey reports whether an unknown key touches security, which
// makes it an error rather than a warning.
func isSecurityKey(k string) bool {
	for _, p := range []string{"ssl.", "sasl.", "security."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	// Keys of other clients' namespaces (schema.registry.ssl.*, ...) are
	// not here: kmigrate does not talk to those services, so ignoring them
	// weakens nothing.
	switch k {
	case "enable.sasl.oauthbearer.unsecure.jwt", "https.protocols", "java.security.auth.login.config",
		"principal.builder.class":
		return true
	}
	return false
}

// propertyName matches what Kafka and librdkafka keys look like. Only keys
// that look like one are quoted in warnings: a line that is not one may be
// the tail of a secret after a broken line continuation.
var propertyName = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$`)

func keyForMessage(k string) string {
	if propertyName.MatchString(k) && len(k) <= 100 {
		return k
	}
	return "a key that does not look like a client property (not shown in case it is part of a secret: check line continuations)"
}

// finish handles what depends on several keys: stores, JAAS, and turning
// verification off.
func (a *applier) finish() {
	if a.trustLoc != nil && a.trustLoc.value != "" {
		if path, ok := a.store(*a.trustLoc, a.trustType, truststore); ok {
			a.set(fCAFile, path, *a.trustLoc)
		}
	}
	if a.keyLoc != nil && a.keyLoc.value != "" {
		if path, ok := a.store(*a.keyLoc, a.keyType, keystore); ok {
			// A Java PEM keystore holds the key and its chain in one file:
			// internal/cluster reads the key from CertFile when KeyFile is
			// empty.
			a.set(fCertFile, path, *a.keyLoc)
		}
	}
	for _, t := range []struct{ file, pem int }{{fCAFile, fCAPEM}, {fCertFile, fCertPEM}, {fKeyFile, fKeyPEM}} {
		f, p := a.fields[t.file], a.fields[t.pem]
		if f.set && p.set {
			a.errs = append(a.errs, lineError{p.from.line, fmt.Errorf("%s:%d: %s and %s (line %d) both give %s: use a file or inline PEM, not both",
				a.p.name, p.from.line, p.from.key, f.from.key, f.from.line, strings.TrimPrefix(p.what, "inline "))})
		}
	}
	if a.jaas != nil {
		a.applyJAAS(*a.jaas)
	}
	if len(a.insecure) > 0 {
		a.turnOffVerification()
	}
}

func (a *applier) applyJAAS(e property) {
	j, err := ParseJAAS(e.value)
	if err != nil {
		a.errorf(e, "%v", err)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(j.Options)) {
		v, err := expandEnv(j.Options[k].Reveal(), a.p.env.orOS())
		if err != nil {
			a.errorf(e, "%s: %v", optionNameOnly(k), err)
			return
		}
		j.Options[k] = Secret(v)
	}
	mech := Mechanism(a.fields[fMechanism].value)
	family, user, pass, err := jaasCredentials(j, mech)
	if err != nil {
		a.errorf(e, "%v", err)
		return
	}
	if user != "" {
		a.set(fUsername, user, e)
	}
	if pass.IsSet() {
		a.set(fPassword, pass.Reveal(), e)
	}
	// PlainLoginModule can only mean PLAIN. A SCRAM module leaves the
	// choice between SHA-256 and SHA-512 to sasl.mechanism, which Validate
	// asks for if nothing sets it.
	if mech == "" && family == Plain {
		a.set(fMechanism, string(Plain), e)
	}
}

// turnOffVerification sets InsecureSkipVerify, with a warning, when the
// file disabled certificate or hostname verification for a TLS protocol.
func (a *applier) turnOffVerification() {
	e := a.insecure[0]
	if a.protocolInFile && !SecurityProtocol(a.fields[fProtocol].value).UsesTLS() {
		a.warnf(e, "is ignored: security.protocol %s does not use TLS", a.fields[fProtocol].value)
		a.insecure = nil
		return
	}
	if e.key == "ssl.endpoint.identification.algorithm" {
		a.warnf(e, "turns off hostname verification; kmigrate cannot verify certificates without the hostname, so it turns off certificate verification entirely (insecure_skip_verify): to keep verification, remove this line and set kmigrate.ssl.server.name to the name in the broker certificates")
	} else {
		a.warnf(e, "turns off certificate verification (insecure_skip_verify): anyone on the network path can impersonate the brokers")
	}
}

// assign copies the fields the file set onto c.
func (a *applier) assign(c *Cluster) {
	f := &a.fields
	if f[fBootstrap].set {
		c.Bootstrap = strings.Split(f[fBootstrap].value, ",")
	}
	str := func(i int, dst *string) {
		if f[i].set {
			*dst = f[i].value
		}
	}
	if f[fProtocol].set {
		c.SecurityProtocol = SecurityProtocol(f[fProtocol].value)
	}
	if f[fMechanism].set {
		c.SASL.Mechanism = Mechanism(f[fMechanism].value)
	}
	str(fUsername, &c.SASL.Username)
	if f[fPassword].set {
		c.SASL.Password = Secret(f[fPassword].value)
	}
	str(fCAFile, &c.TLS.CAFile)
	str(fCAPEM, &c.TLS.CAPEM)
	str(fCertFile, &c.TLS.CertFile)
	str(fCertPEM, &c.TLS.CertPEM)
	str(fKeyFile, &c.TLS.KeyFile)
	if f[fKeyPEM].set {
		c.TLS.KeyPEM = Secret(f[fKeyPEM].value)
	}
	str(fServerName, &c.TLS.ServerName)
	str(fClientID, &c.ClientID)
	if len(a.insecure) > 0 {
		c.TLS.InsecureSkipVerify = true
	}
	c.PropertiesFile = a.p.name
}

type storeKind int

const (
	truststore storeKind = iota
	keystore
)

func (k storeKind) typeKey() string {
	if k == truststore {
		return "ssl.truststore.type"
	}
	return "ssl.keystore.type"
}

// store checks that a truststore or keystore is PEM and returns its path.
// Java's stores default to JKS, which Go cannot read; rather than fail
// later with "no certificates found", say how to convert.
func (a *applier) store(loc property, typ *property, kind storeKind) (string, bool) {
	path := a.p.resolvePath(loc.value)
	t := ""
	if typ != nil {
		t = strings.ToUpper(typ.value)
	}
	switch t {
	case "PEM":
		return path, true
	case "JKS", "PKCS12", "JCEKS":
		a.errorf(loc, "%s", convertAdvice(loc.value, t, kind))
		return "", false
	case "":
		// Java's default is JKS, but a PEM file is what we want anyway:
		// look inside.
	default:
		a.errorf(*typ, "store type %q is not supported: kmigrate reads PEM files only; convert the store to PEM and set %s=PEM", typ.value, typ.key)
		return "", false
	}
	format, err := sniffStore(path)
	if err != nil {
		a.errorf(loc, "cannot check the store's format (%s is not set, and Java's default is JKS): %v", kind.typeKey(), err)
		return "", false
	}
	if format == "PEM" {
		return path, true
	}
	if format == "" {
		a.errorf(loc, "%q is neither PEM nor a JKS or PKCS12 store: kmigrate reads PEM files", loc.value)
		return "", false
	}
	a.errorf(loc, "%s", convertAdvice(loc.value, format, kind))
	return "", false
}

// sniffStore reports a store file's format from its first bytes: "PEM",
// "JKS", "JCEKS", "PKCS12", or "" when it is none of those.
func sniffStore(path string) (string, error) {
	// A FIFO or device would block or never end: refuse anything but a
	// file, before opening it (opening a FIFO blocks).
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// PEM files from `openssl pkcs12` start with "Bag Attributes" text, so
	// look further than the first line for the armour.
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "", err
	}
	switch {
	case bytes.HasPrefix(b, []byte{0xFE, 0xED, 0xFE, 0xED}):
		return "JKS", nil
	case bytes.HasPrefix(b, []byte{0xCE, 0xCE, 0xCE, 0xCE}):
		return "JCEKS", nil
	case bytes.Contains(b, []byte("-----BEGIN")):
		return "PEM", nil
	case len(b) > 0 && b[0] == 0x30: // a DER SEQUENCE: PKCS#12
		return "PKCS12", nil
	}
	return "", nil
}

// convertAdvice explains how to turn a JKS, JCEKS or PKCS12 store into the
// PEM files kmigrate reads.
func convertAdvice(file, format string, kind storeKind) string {
	var steps []string
	p12 := file
	if kind == truststore {
		if format != "PKCS12" {
			p12 = "truststore.p12"
			steps = append(steps, fmt.Sprintf("`keytool -importkeystore -srckeystore %s -srcstoretype %s -destkeystore %s -deststoretype PKCS12`", file, format, p12))
		}
		steps = append(steps, fmt.Sprintf("`openssl pkcs12 -in %s -nokeys -out ca.pem`", p12))
		return fmt.Sprintf("%q is a %s truststore; kmigrate reads PEM only: convert it with %s, then set ssl.truststore.type=PEM and point ssl.truststore.location (or ssl.ca.location) at ca.pem",
			file, format, strings.Join(steps, " and "))
	}
	if format != "PKCS12" {
		p12 = "keystore.p12"
		steps = append(steps, fmt.Sprintf("`keytool -importkeystore -srckeystore %s -srcstoretype %s -destkeystore %s -deststoretype PKCS12`", file, format, p12))
	}
	steps = append(steps, fmt.Sprintf("`openssl pkcs12 -in %s -nodes -out client.pem`", p12))
	return fmt.Sprintf("%q is a %s keystore; kmigrate reads PEM only: convert it with %s (client.pem then holds the unencrypted key: keep it private), then set ssl.keystore.type=PEM and point ssl.keystore.location at client.pem (or use ssl.certificate.location and ssl.key.location)",
		file, format, strings.Join(steps, " and "))
}
