package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

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

// showProgress reports a mirror's progress until ctx ends: on a terminal a
// bar (a bounded copy: offsets done of the total, rate, ETA) or a spinner
// with the records copied and the lag (continuous), redrawn in place; a log
// line every progressLogEvery otherwise; nothing for progressNone.
func showProgress(ctx context.Context, w io.Writer, kind progressKind, logger *slog.Logger, stats func() mirror.Stats) {
	if kind == progressNone {
		return
	}
	every := progressLogEvery
	if kind == progressBar {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var (
		bar    *progressbar.ProgressBar
		prev   mirror.Stats
		prevAt = time.Now()
	)
	for {
		select {
		case <-ctx.Done():
			if bar != nil {
				_ = bar.Finish()
			}
			return
		case now := <-t.C:
			s := stats()
			rate := float64(s.Bytes-prev.Bytes) / now.Sub(prevAt).Seconds()
			rrate := float64(s.Records-prev.Records) / now.Sub(prevAt).Seconds()
			prev, prevAt = s, now
			left, total := s.Remaining()
			if kind == progressLog {
				logger.Info("mirror progress", "records", s.Records, "bytes", s.Bytes, "records_per_sec", int64(rrate),
					"bytes_per_sec", int64(rate), "remaining_offsets", left, "total_offsets", total, "transactions", s.Transactions)
				continue
			}
			if bar == nil {
				n := total
				if n <= 0 {
					n = -1 // a spinner: no total to reach
				}
				bar = progressbar.NewOptions64(n, progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(24),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(total > 0), progressbar.OptionClearOnFinish(),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSpinnerType(14))
			}
			bar.Describe(progressText(s, rrate, rate))
			if total > 0 {
				_ = bar.Set64(total - left)
			} else {
				_ = bar.Add(1)
			}
		}
	}
}

// progressText is the bar's description: records, bytes and rates, and
// the lag of a continuous mirror.
func progressText(s mirror.Stats, recordRate, byteRate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records  %s  %.0f rec/s  %s/s", s.Records, humanBytes(float64(s.Bytes)), recordRate, humanBytes(byteRate))
	if _, total := s.Remaining(); total < 0 {
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
