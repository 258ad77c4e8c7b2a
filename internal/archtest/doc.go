// Package archtest holds tests that keep the code base's shape: every
// package documents why it exists, domain packages do not depend on the
// command line or HTTP layers, and files stay small enough to read. These
// rules are cheap to break by accident and expensive to restore later,
// hence tests rather than review comments.
package archtest
