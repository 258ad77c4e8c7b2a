package runinfo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main is the main function every harness shares: it parses the flags
// (exit 0 for -h, 2 for a bad flag), runs the harness or, when isChild
// says so, one of its child measurements, with a context that SIGINT and
// SIGTERM cancel, and exits 1 on an error. name prefixes the messages.
func Main[O any](name string, parse func([]string) (O, error), isChild func(O) bool, run, runChild func(context.Context, O) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	o, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	if isChild(o) {
		err = runChild(ctx, o)
	} else {
		err = run(ctx, o)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
