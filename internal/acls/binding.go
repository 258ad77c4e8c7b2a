package acls

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrNoAuthorizer: the cluster has no authorizer, so it holds no bindings
// and accepts none (Kafka's SECURITY_DISABLED).
var ErrNoAuthorizer = errors.New("the cluster has no authorizer")

// Binding is one ACL binding. Its JSON form uses Kafka's names ("TOPIC",
// "PREFIXED", "READ", "ALLOW").
type Binding struct {
	Resource   kmsg.ACLResourceType        `json:"resource"`
	Name       string                      `json:"name"`
	Pattern    kmsg.ACLResourcePatternType `json:"pattern"`
	Principal  string                      `json:"principal"`
	Host       string                      `json:"host"`
	Operation  kmsg.ACLOperation           `json:"operation"`
	Permission kmsg.ACLPermissionType      `json:"permission"`
}

// String is the binding as one line, e.g.
// "ALLOW User:app@* READ TOPIC orders (LITERAL)".
func (b Binding) String() string {
	return fmt.Sprintf("%s %s@%s %s %s %s (%s)", b.Permission, b.Principal, b.Host, b.Operation, b.Resource, b.Name, b.Pattern)
}

// compare orders bindings by resource, then principal, operation and the
// rest, for stable reports.
func compare(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.Resource, b.Resource),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Pattern, b.Pattern),
		cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.Host, b.Host),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Permission, b.Permission),
	)
}

// Read returns every binding of the cluster behind cl.
func Read(ctx context.Context, cl *kgo.Client) ([]Binding, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeAny
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describe ACLs: %w", err)
	}
	if err := codeErr(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return nil, fmt.Errorf("describe ACLs: %w", err)
	}
	var out []Binding
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			out = append(out, Binding{
				Resource: r.ResourceType, Name: r.ResourceName, Pattern: r.ResourcePatternType,
				Principal: a.Principal, Host: a.Host, Operation: a.Operation, Permission: a.PermissionType,
			})
		}
	}
	return out, nil
}

// codeErr is the error for a Kafka error code, ErrNoAuthorizer wrapped
// around SECURITY_DISABLED.
func codeErr(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" {
		err = brokerError{err, *msg}
	}
	if errors.Is(err, kerr.SecurityDisabled) {
		return fmt.Errorf("%w: %w", ErrNoAuthorizer, err)
	}
	return err
}

// brokerError is a Kafka error code with the broker's message, printed as
// "CODE_NAME: message" (kerr's long description says less than the
// broker's message).
type brokerError struct {
	code error
	msg  string
}

func (e brokerError) Error() string {
	name := e.code.Error()
	if ke, ok := e.code.(*kerr.Error); ok {
		name = ke.Message
	}
	return name + ": " + e.msg
}

func (e brokerError) Unwrap() error { return e.code }

// Failed is a binding the target refused, with the broker's reason.
type Failed struct {
	Binding Binding `json:"binding"`
	Err     error   `json:"-"`
	// Reason is Err's text, for JSON.
	Reason string `json:"reason"`
}

// Create creates bs on cl; bindings the broker refuses are returned as
// Failed, a failed request as the error.
func Create(ctx context.Context, cl *kgo.Client, bs []Binding) ([]Failed, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bs {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = b.Resource, b.Name, b.Pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("create ACLs: %w", err)
	}
	if len(resp.Results) != len(bs) {
		return nil, fmt.Errorf("create ACLs: %d results for %d bindings", len(resp.Results), len(bs))
	}
	var failed []Failed
	for i, r := range resp.Results {
		if err := codeErr(r.ErrorCode, r.ErrorMessage); err != nil {
			failed = append(failed, Failed{Binding: bs[i], Err: err, Reason: err.Error()})
		}
	}
	return failed, nil
}

// Delete deletes exactly the bindings bs from cl (each filter names every
// field, so it matches one binding).
func Delete(ctx context.Context, cl *kgo.Client, bs []Binding) ([]Failed, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	for _, b := range bs {
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = b.Resource, kmsg.StringPtr(b.Name), b.Pattern
		f.Principal, f.Host = kmsg.StringPtr(b.Principal), kmsg.StringPtr(b.Host)
		f.Operation, f.PermissionType = b.Operation, b.Permission
		req.Filters = append(req.Filters, f)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("delete ACLs: %w", err)
	}
	if len(resp.Results) != len(bs) {
		return nil, fmt.Errorf("delete ACLs: %d results for %d filters", len(resp.Results), len(bs))
	}
	var failed []Failed
	for i, r := range resp.Results {
		if err := codeErr(r.ErrorCode, r.ErrorMessage); err != nil {
			failed = append(failed, Failed{Binding: bs[i], Err: err, Reason: err.Error()})
		}
	}
	return failed, nil
}
