package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/groups"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/offsets"
)

func (e *env) offsetsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "Translate offsets that applications keep outside Kafka",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(e.offsetsTranslateCommand())
	return cmd
}

// translateReport is what `offsets translate --output json` prints.
type translateReport struct {
	Migration string           `json:"migration"`
	Reverse   bool             `json:"reverse"`
	Format    string           `json:"format"`
	Answers   []offsets.Answer `json:"answers"`
	Errors    []string         `json:"errors"`
}

func (e *env) offsetsTranslateCommand() *cobra.Command {
	var (
		input, output, natives string
		reverse, rewrite       bool
	)
	cmd := &cobra.Command{
		Use:   "translate [FILE]",
		Short: "Translate stored source positions to exact target positions (writes nothing)",
		Long: `translate reads positions an application stored outside Kafka (a Flink or
Spark checkpoint, a Kafka Connect sink's own store, a database) and prints the
exact position to resume at on the target, with the same rules as
kmigrate groups migrate: a stored offset is "the next record to read", and the
answer is the copy of that record or, when the source offset held no copied
record, of the next one. Each answer has a kind: exact, next-copied, end (the
application had read everything copied), expired (records deleted from the
source before they were copied: the count is reported), not-yet-mirrored (the
mirror has not copied that far yet: translate again later).

Records written natively on the target between the last copy the application
consumed and its next copy are new to it, so the answer is the first of them.
Natives before copies it already consumed cannot be delivered from one
position: translate refuses, as groups migrate does, unless
--unreachable-natives=skip or reread.

Input (FILE or stdin) is recognised by its shape:
  lines       topic partition offset   (one per line, # comments)
  Spark JSON  {"orders":{"0":1200,"1":1180}}   (a checkpoint's Kafka source offsets;
              also the whole offsets/<batch> file: v1, metadata, sources)
  list        [{"topic":"orders","partition":0,"offset":1200}, ...]   (Flink-style)
--rewrite prints the input in its own format with target topics and offsets
(for writing a checkpoint file back), and refuses unless every position has a
final answer. --reverse translates target positions back to the source.
Exit 1 when any position could not be translated.`,
		Example: `  echo "orders 0 1200" | kmigrate offsets translate -f migration.yaml
  kmigrate offsets translate -f migration.yaml checkpoint/offsets/42 --rewrite > offsets-42.new
  kmigrate offsets translate -f migration.yaml --reverse --output json positions.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			choice, err := groups.ParseNativeChoice(natives)
			if err != nil {
				return usageError{fmt.Errorf("--unreachable-natives: %w", err)}
			}
			if len(args) == 1 {
				input = args[0]
			}
			var b []byte
			if input == "" || input == "-" {
				b, err = io.ReadAll(e.stdin)
			} else {
				b, err = os.ReadFile(input)
			}
			if err != nil {
				return usageError{fmt.Errorf("read positions: %w", err)}
			}
			in, err := offsets.Parse(b)
			if err != nil {
				return usageError{err}
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			h, err := migration.Open(ctx, cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			tr, err := offsets.New(ctx, h, offsets.Options{Reverse: reverse, Natives: choice})
			if err != nil {
				return err
			}
			answers, terr := tr.All(ctx, in.Positions)
			if answers == nil && terr != nil {
				return terr
			}
			if rewrite {
				if terr != nil {
					return fmt.Errorf("nothing rewritten: %w", terr)
				}
				out, err := in.Rewrite(answers)
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(out)
				return err
			}
			rep := translateReport{Migration: h.Name(), Reverse: reverse, Format: in.Format.String(), Answers: answers, Errors: []string{}}
			for _, err := range unjoin(terr) {
				rep.Errors = append(rep.Errors, err.Error())
			}
			if err := emit(e.stdout, output, rep, func(w io.Writer) { printAnswers(w, rep) }); err != nil {
				return err
			}
			if terr != nil {
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "file of positions (default: the FILE argument, or stdin)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	f.BoolVar(&reverse, "reverse", false, "translate target positions back to the source (the way back)")
	f.BoolVar(&rewrite, "rewrite", false, "print the input in its own format with translated topics and offsets")
	f.StringVar(&natives, "unreachable-natives", "refuse", "when natives lie before copies already consumed: refuse, skip (the exact position) or reread (the first of them)")
	return cmd
}

// unjoin splits an errors.Join result.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func printAnswers(w io.Writer, r translateReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET\tTO TOPIC\tTO OFFSET\tKIND\tNOTE")
	for _, a := range r.Answers {
		to := fmt.Sprint(a.To)
		if !a.Final() || a.Kind == "" {
			to = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", a.From.Topic, a.From.Partition, a.From.Offset, a.ToTopic, to, orDash(a.Kind), note(a))
	}
	tw.Flush()
	for _, err := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", err)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// note says in words what an answer means beyond its kind.
func note(a offsets.Answer) string {
	var s string
	switch {
	case a.Kind == groups.Expired.String():
		s = fmt.Sprintf("%d source offsets expired before they were copied", a.Skipped)
	case a.Kind == groups.NotYetMirrored.String():
		s = "the mirror has not copied this far: translate again later"
	}
	add := func(t string) {
		if s != "" {
			s += "; "
		}
		s += t
	}
	if a.Native > 0 {
		add(fmt.Sprintf("starts at %d natives written on the target", a.Native))
	}
	if a.Unreachable > 0 {
		add(fmt.Sprintf("%d natives before consumed copies (%s)", a.Unreachable, groups.RangesText(a.UnreachableNatives, 3)))
	}
	if a.Reread > 0 {
		add(fmt.Sprintf("re-reads %d copies", a.Reread))
	}
	return s
}
