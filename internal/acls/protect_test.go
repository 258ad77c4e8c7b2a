package acls_test

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/acls"
)

func TestGuards(t *testing.T) {
	guard := func(name, p string) acls.Binding { return bind(deny, p, write, topic, name, literal) }
	target := []acls.Binding{
		bind(allow, "User:app", write, topic, "orders", literal),
		bind(allow, "User:bulk", kmsg.ACLOperationAll, topic, "ord", prefix),
		bind(allow, "User:reader", read, topic, "orders", literal), // reads only
		bind(allow, "User:migrator", write, topic, "*", literal),   // the migrator itself
		bind(allow, "User:*", write, topic, "payments", literal),   // everyone
		bind(allow, "User:app", write, topic, "old", literal),      // released topic's writer
		guard("orders", "User:app"),                                // already there
		guard("old", "User:app"),                                   // to remove
		bind(deny, "User:app", write, topic, "kept", literal),      // the source's own DENY
	}
	wanted := map[acls.Binding]bool{bind(deny, "User:app", write, topic, "kept", literal): true}
	add, remove, unprot := acls.Guards(target, []string{"orders", "payments"}, []string{"old", "kept"}, wanted, "User:migrator")
	if want := []acls.Binding{guard("orders", "User:bulk")}; !reflect.DeepEqual(add, want) {
		t.Errorf("add %v, want %v", add, want)
	}
	if want := []acls.Binding{guard("old", "User:app")}; !reflect.DeepEqual(remove, want) {
		t.Errorf("remove %v, want %v", remove, want)
	}
	if len(unprot) != 1 || unprot[0].Topic != "payments" || unprot[0].Principal != "User:*" {
		t.Errorf("unprotectable %+v, want payments for User:*", unprot)
	}
}
