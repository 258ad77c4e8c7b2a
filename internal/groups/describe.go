package groups

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Describe returns the state of each named group on one cluster, as List
// reports a Side: StateDead for a group the cluster does not know, Err
// when it could not be described. Status uses it for the target alone
// when the source cannot be read.
func Describe(ctx context.Context, adm *kadm.Client, names []string) (map[string]Side, error) {
	return describe(ctx, adm, names)
}
