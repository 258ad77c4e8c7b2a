// Command kmigrate moves a live Kafka workload from one cluster to another:
// topics, records and consumer group positions. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kmigrate/kmigrate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
