package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kmigrate/kmigrate/internal/mirror"
)

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showProgress reports a mirror's progress until ctx ends: a bar redrawn in
// place on a terminal, a log line every interval otherwise.
func showProgress(ctx context.Context, w io.Writer, tty bool, logger *slog.Logger, stats func() mirror.Stats) {
	every := 10 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var prev mirror.Stats
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		case now := <-t.C:
			s := stats()
			rate := float64(s.Bytes-prev.Bytes) / now.Sub(prevAt).Seconds()
			rrate := float64(s.Records-prev.Records) / now.Sub(prevAt).Seconds()
			prev, prevAt = s, now
			if tty {
				fmt.Fprint(w, "\r\033[K"+progressLine(s, rrate, rate))
			} else {
				left, total := s.Remaining()
				logger.Info("mirror progress", "records", s.Records, "bytes", s.Bytes, "records_per_sec", int64(rrate),
					"bytes_per_sec", int64(rate), "remaining_offsets", left, "total_offsets", total, "transactions", s.Transactions)
			}
		}
	}
}

// progressLine renders one line: bar, counts, rate and ETA (bounded copies)
// or lag (continuous).
func progressLine(s mirror.Stats, recordRate, byteRate float64) string {
	left, total := s.Remaining()
	var b strings.Builder
	if total > 0 {
		frac := float64(total-left) / float64(total)
		const width = 24
		filled := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% ", strings.Repeat("#", filled), strings.Repeat("-", width-filled), 100*frac)
	}
	fmt.Fprintf(&b, "%d records  %s  %.0f rec/s  %s/s", s.Records, humanBytes(float64(s.Bytes)), recordRate, humanBytes(byteRate))
	switch {
	case total > 0 && recordRate > 0:
		fmt.Fprintf(&b, "  ETA %s", time.Duration(float64(left)/recordRate*float64(time.Second)).Round(time.Second))
	case total < 0:
		var lag int64
		for _, p := range s.Partitions {
			lag += p.Lag
		}
		fmt.Fprintf(&b, "  lag %d", lag)
	}
	return b.String()
}

func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
