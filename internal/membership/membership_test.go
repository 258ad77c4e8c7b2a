package membership_test

import (
	"errors"
	"testing"

	"github.com/kmigrate/kmigrate/internal/kafkatest"
	"github.com/kmigrate/kmigrate/internal/membership"
)

func TestNames(t *testing.T) {
	if got := membership.Topic("__kmigrate-m1"); got != "__kmigrate-m1-units" {
		t.Errorf("Topic = %q", got)
	}
	if got := membership.Group("kmigrate-m1"); got != "kmigrate-m1-units" {
		t.Errorf("Group = %q", got)
	}
}

// TestEnsure: the units topic is created with one partition per unit,
// accepted again as it is, and refused when the count differs.
func TestEnsure(t *testing.T) {
	c := kafkatest.New(t, kafkatest.Brokers(1))
	// A new admin client each time: franz-go keeps a metadata response
	// for a short while, and the first call saw the topic missing.
	topic := membership.Topic("__kmigrate-m1")
	for range 2 {
		if err := membership.Ensure(t.Context(), c.Admin(t), topic, 4, -1); err != nil {
			t.Fatal(err)
		}
	}
	md, err := c.Admin(t).Metadata(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics[topic].Partitions); n != 4 {
		t.Errorf("units topic has %d partitions, want 4", n)
	}
	if err := membership.Ensure(t.Context(), c.Admin(t), topic, 3, -1); !errors.Is(err, membership.ErrUnitsTopic) {
		t.Errorf("Ensure with 3 units: %v, want ErrUnitsTopic", err)
	}
}
