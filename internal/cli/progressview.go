package cli

// How long commands show that they are working. One rule for all of them
// (mirror --until end, verify, groups migrate over many groups, plan): a
// bar or spinner redrawn in place when stderr is a terminal, an info log
// line every progressLogEvery otherwise (a log file or CI output must not
// fill with redraws), never both, and nothing with --quiet or
// --progress never. The bar is schollz/progressbar, which handles the
// terminal (width, redraw, rates, ETA).

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// progressLogEvery is how often a command logs progress when stderr is not
// a terminal.
const progressLogEvery = 10 * time.Second

// progressKind is how a command shows progress.
type progressKind int

const (
	progressNone progressKind = iota
	progressBar               // redrawn in place on a terminal
	progressLog               // periodic log lines
)

// progressFlags are --progress and --quiet.
type progressFlags struct {
	mode  string
	quiet bool
}

func (f *progressFlags) add(cmd *cobra.Command) {
	if cmd.Flags().Lookup("progress") == nil {
		cmd.Flags().StringVar(&f.mode, "progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), always, never")
	}
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "show no progress (the result is printed as usual)")
}

func (f *progressFlags) check() error {
	switch f.mode {
	case "auto", "always", "never":
		return nil
	}
	return usageError{fmt.Errorf("--progress %q: use auto, always or never", f.mode)}
}

// kind decides, for output going to w.
func (f *progressFlags) kind(w io.Writer) progressKind {
	switch {
	case f.quiet || f.mode == "never":
		return progressNone
	case f.mode == "always" || isTerminal(w):
		return progressBar
	}
	return progressLog
}

// counter shows the progress of a known number of units of work.
type counter struct {
	e     *env
	kind  progressKind
	bar   *progressbar.ProgressBar
	what  string
	total int64

	mu    sync.Mutex
	done  int64
	start time.Time
	last  time.Time
}

// newCounter starts showing progress through total units (what, e.g.
// "groups"); it shows nothing for kind progressNone.
func (e *env) newCounter(kind progressKind, what string, total int64) *counter {
	c := &counter{e: e, kind: kind, what: what, total: total, start: time.Now()}
	c.last = c.start
	if kind == progressBar {
		c.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(what),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(24))
	}
	return c
}

// Add counts n more units done.
func (c *counter) Add(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done += n
	switch c.kind {
	case progressBar:
		_ = c.bar.Add64(n)
	case progressLog:
		if now := time.Now(); now.Sub(c.last) >= progressLogEvery {
			c.last = now
			c.log(now)
		}
	}
}

func (c *counter) log(now time.Time) {
	rate := float64(c.done) / max(now.Sub(c.start).Seconds(), 1e-3)
	args := []any{"done", c.done, "total", c.total, "per_sec", fmt.Sprintf("%.1f", rate)}
	if rate > 0 && c.done < c.total {
		args = append(args, "eta", time.Duration(float64(c.total-c.done)/rate*float64(time.Second)).Round(time.Second).String())
	}
	c.e.logger.Info(c.what+" progress", args...)
}

// Finish clears the bar.
func (c *counter) Finish() {
	if c.kind == progressBar {
		_ = c.bar.Finish()
	}
}

// tally is one look at work whose size is learnt as it runs: done of total
// units (total 0 until known) and a detail for people ("1200 source
// records read").
type tally struct {
	done, total int64
	detail      string
}

// track shows fn's progress, read with look, while fn runs: on a terminal
// a bar of done of total with the rate and ETA (a spinner until the total
// is known), redrawn in place; otherwise an info log line every
// progressLogEvery and one when fn has succeeded, with the same numbers;
// nothing for progressNone.
func (e *env) track(ctx context.Context, kind progressKind, what, unit string, look func() tally, fn func() error) error {
	if kind == progressNone {
		return fn()
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		if kind == progressBar {
			e.trackBar(ctx, what, unit, look)
			return
		}
		t := time.NewTicker(progressLogEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				e.logTally(what, unit, look(), now.Sub(start))
			}
		}
	})
	err := fn()
	stop()
	wg.Wait()
	if err == nil && kind == progressLog {
		e.logTally(what, unit, look(), time.Since(start))
	}
	return err
}

// trackBar redraws a bar of look's numbers until ctx ends.
func (e *env) trackBar(ctx context.Context, what, unit string, look func() tally) {
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(24), progressbar.OptionSpinnerType(14))
	_ = bar.RenderBlank() // at once: short work shows too
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var total int64
	for {
		select {
		case <-ctx.Done():
			_ = bar.Finish()
			return
		case <-t.C:
			l := look()
			if l.total > 0 && l.total != total {
				total = l.total
				bar.ChangeMax64(total)
			}
			if l.detail != "" {
				bar.Describe(what + " (" + l.detail + ")")
			}
			if total > 0 {
				_ = bar.Set64(l.done)
			} else {
				_ = bar.Add(1)
			}
		}
	}
}

// logTally logs one look at the work: done, total, rate, ETA and detail.
func (e *env) logTally(what, unit string, l tally, elapsed time.Duration) {
	rate := float64(l.done) / max(elapsed.Seconds(), 1e-3)
	args := []any{"unit", unit, "done", l.done, "total", l.total, "per_sec", fmt.Sprintf("%.1f", rate)}
	if rate > 0 && l.total > l.done {
		args = append(args, "eta", time.Duration(float64(l.total-l.done)/rate*float64(time.Second)).Round(time.Second).String())
	}
	if l.detail != "" {
		args = append(args, "detail", l.detail)
	}
	e.logger.Info(what+" progress", args...)
}
