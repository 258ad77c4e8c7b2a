package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/migration"
)

// accessFlags are the flags of the access commands.
type accessFlags struct {
	output      string
	allowSpill  bool
	deleteExtra bool
}

func (e *env) accessCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "access",
		Aliases: []string{"acls"},
		Short:   "Move the ACL bindings around the migrated topics and groups to the target, and compare both sides",
		Long: `access moves what surrounds the data: the source's ACL bindings that concern
the migration (topic bindings covering selected topics, literal or prefixed,
group bindings covering selected groups, every transactional-id and cluster
binding; ALLOW and DENY), written on the target under the target topic names
and with the spec's principal rules (acls.principals: ["User:old -> User:new"]).

A prefixed or wildcard topic binding that on the target would also cover
topics outside the migration is a conflict: reported, and written only with
acls.allow_spill or --allow-spill. Bindings the target refuses are reported
with the broker's reason. See docs/acls.md, which also lists the ACLs
kmigrate's own principal needs.

  plan    lists what apply would create, the target's extra bindings and the
          conflicts (writes nothing)
  apply   creates the missing bindings (and with --delete-extra deletes the
          extra ones); idempotent
  verify  compares both sides: exit 0 when the target holds exactly the
          source's bindings for the migration, 1 otherwise`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(e.accessSub("plan", "Show the bindings to create, the extra ones and the conflicts (writes nothing)"),
		e.accessSub("apply", "Create the missing bindings on the target (idempotent)"),
		e.accessSub("verify", "Compare both sides' bindings (exit 1 when they differ)"))
	return cmd
}

func (e *env) accessSub(verb, short string) *cobra.Command {
	var fl accessFlags
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(fl.output); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if fl.allowSpill {
				cfg.ACLs.AllowSpill = true
			}
			h, err := migration.Open(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			r := &accessReport{Action: verb}
			if r.ACLs, err = acls.Make(cmd.Context(), h); err != nil {
				return fmt.Errorf("ACLs: %w", err)
			}
			var applyErr error
			if verb == "apply" {
				r.Applied, applyErr = acls.Apply(cmd.Context(), h, r.ACLs, acls.Options{DeleteExtra: fl.deleteExtra})
				if applyErr != nil && !errors.Is(applyErr, acls.ErrRefused) {
					return fmt.Errorf("ACLs: %w", applyErr)
				}
				for _, b := range r.Applied.Created {
					e.logger.Info("created ACL binding", "binding", b.String())
				}
				for _, b := range r.Applied.Deleted {
					e.logger.Info("deleted ACL binding", "binding", b.String())
				}
			}
			r.InSync = r.ACLs.InSync()
			if err := emit(e.stdout, fl.output, r, func(w io.Writer) { printAccess(w, r) }); err != nil {
				return err
			}
			if applyErr != nil || (verb == "verify" && !r.InSync) {
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&fl.output, "output", "o", "text", "output format: text or json")
	f.StringVar(&e.overrides.TopicPrefix, "topic-prefix", "", "prefix for target topic names (default: the source names)")
	f.BoolVar(&fl.allowSpill, "allow-spill", false, "write prefixed and wildcard topic bindings that also cover target topics outside the migration")
	if verb == "apply" {
		f.BoolVar(&fl.deleteExtra, "delete-extra", false, "also delete target bindings on the migration's resources that the source does not have")
	}
	return cmd
}

// accessReport is the output of the access commands.
type accessReport struct {
	Action string `json:"action"`
	// InSync is the plan's (before apply, for apply).
	InSync  bool         `json:"in_sync"`
	ACLs    *acls.Plan   `json:"acls"`
	Applied *acls.Result `json:"applied,omitempty"`
}

func printAccess(w io.Writer, r *accessReport) {
	p := r.ACLs
	fmt.Fprintf(w, "ACLs: %s concerning the migration, %d already on the target, %d to create, %d extra on the target, %s\n",
		plural(p.Source, "source binding"), p.Equal, len(p.Create), len(p.Extra), plural(len(p.Spills), "conflict"))
	list := func(title string, bs []acls.Binding) {
		if len(bs) == 0 {
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, b := range bs {
			fmt.Fprintf(w, "  %s\n", b)
		}
	}
	if r.Applied == nil {
		list("To create", p.Create)
	}
	list("Extra on the target", p.Extra)
	if len(p.Spills) > 0 {
		fmt.Fprintln(w, "Conflicts (prefixed or wildcard bindings covering target topics outside the migration):")
		for _, s := range p.Spills {
			what := "not written: allow with acls.allow_spill or --allow-spill"
			switch {
			case s.OnTarget:
				what = "on the target"
			case s.Allowed:
				what = "allowed"
			}
			fmt.Fprintf(w, "  %s (from %s) also covers %s: %s\n", s.Target, s.Source.Name, strings.Join(s.Outside, ", "), what)
		}
	}
	if a := r.Applied; a != nil {
		list("Created", a.Created)
		list("Deleted", a.Deleted)
		if len(a.Failed) > 0 {
			fmt.Fprintln(w, "Refused by the target:")
			for _, f := range a.Failed {
				fmt.Fprintf(w, "  %s: %s\n", f.Binding, f.Reason)
			}
		}
	}
	if r.Action == "verify" {
		if r.InSync {
			fmt.Fprintln(w, "OK: the target holds the source's bindings for the migration.")
		} else {
			fmt.Fprintln(w, "DIFFERENT: run kmigrate access apply (see the lists above).")
		}
	}
}
