package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/acls"
	"github.com/kmigrate/kmigrate/internal/migration"
	"github.com/kmigrate/kmigrate/internal/quotas"
	"github.com/kmigrate/kmigrate/internal/users"
)

// accessFlags are the flags of the access commands.
type accessFlags struct {
	output      string
	allowSpill  bool
	deleteExtra bool
	secretsFile string
	watch       time.Duration
}

func (e *env) accessCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "access",
		Aliases: []string{"acls"},
		Short:   "Move ACL bindings, client quotas and SCRAM users to the target, and compare both sides",
		Long: `access moves what surrounds the data: the source's ACL bindings that concern
the migration (topic bindings covering selected topics, literal or prefixed,
group bindings covering selected groups, every transactional-id and cluster
binding; ALLOW and DENY), written on the target under the target topic names
and with the spec's principal rules (acls.principals: ["User:old -> User:new"]).

A prefixed or wildcard topic binding that on the target would also cover
topics outside the migration is a conflict: reported, and written only with
acls.allow_spill or --allow-spill. Bindings the target refuses are reported
with the broker's reason.

Client quotas (users, client ids, their defaults) are copied and compared the
same way. SCRAM users are listed (name, mechanism, iterations: a cluster
never gives out credentials); apply creates the missing ones from
--users-secrets FILE, a YAML mapping of target user name to password that is
never printed or logged. See docs/acls.md, which also lists the ACLs
kmigrate's own principal needs.

  plan    lists what apply would create, the target's extra bindings and the
          conflicts (writes nothing)
  apply   creates the missing bindings and sets the quotas (and with
          --delete-extra deletes the extra ones), creates users; idempotent
  verify  compares both sides: exit 0 when the target holds exactly the
          source's bindings and quotas for the migration and every source
          user, 1 otherwise

  protect    until a topic is promoted, denies WRITE on its target copy to
             every principal the target lets write it, except the migrator
             (run after apply, and again after each promote, which releases
             the promoted topics)
  unprotect  removes all of kmigrate's write guards (rollback, or a
             migration given up)

  users-script  prints a shell script that creates the missing SCRAM users
                with kafka-configs.sh, passwords read from environment
                variables (for users who keep passwords in their own tooling)`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(e.accessSub("plan", "Show the bindings to create, the extra ones and the conflicts (writes nothing)"),
		e.accessSub("apply", "Create the missing bindings on the target (idempotent)"),
		e.accessSub("verify", "Compare both sides' bindings (exit 1 when they differ)"),
		e.protectSub("protect", "Deny writes to mirrored target topics to every writer but the migrator until promotion; release promoted topics"),
		e.protectSub("unprotect", "Remove every write guard kmigrate added to the migration's target topics"),
		e.usersScriptSub())
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
			if fl.watch < 0 {
				return usageError{errors.New("--watch must not be negative")}
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if fl.allowSpill {
				cfg.ACLs.AllowSpill = true
			}
			var secrets users.Secrets
			if fl.secretsFile != "" {
				if secrets, err = users.LoadSecrets(fl.secretsFile); err != nil {
					return usageError{fmt.Errorf("--users-secrets: %w", err)}
				}
			}
			h, err := migration.Open(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			ctx := cmd.Context()
			if fl.watch > 0 {
				return e.watchAccess(ctx, h, fl, secrets)
			}
			r, applyErr, err := e.accessOnce(ctx, h, verb, fl, secrets)
			if err != nil {
				return err
			}
			if err := emit(e.stdout, fl.output, r, func(w io.Writer) { printAccess(w, r) }); err != nil {
				return err
			}
			if applyErr != nil {
				if isRefusal(applyErr) {
					return silentExit{exitError}
				}
				return applyErr
			}
			if verb == "verify" && !r.InSync {
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
		f.BoolVar(&fl.deleteExtra, "delete-extra", false, "also delete target bindings on the migration's resources, and target quotas, that the source does not have")
		f.DurationVar(&fl.watch, "watch", 0, "apply again every interval (e.g. 30s) until Ctrl-C, so that additions and, with --delete-extra, removals on the source follow")
		f.StringVar(&fl.secretsFile, "users-secrets", "", "YAML file mapping target user names to passwords, for creating missing SCRAM users (never printed)")
	}
	return cmd
}

// accessOnce plans (and for apply applies) once. applyErr is what apply
// could not do (listed in the report); err means there is no report.
func (e *env) accessOnce(ctx context.Context, h *migration.Handle, verb string, fl accessFlags, secrets users.Secrets) (r *accessReport, applyErr, err error) {
	a, err := acls.PlanAccess(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	r = &accessReport{Action: verb, InSync: a.InSync, ACLs: a.ACLs, Quotas: a.Quotas, Users: a.Users}
	if verb == "apply" {
		applyErr = e.applyAccess(ctx, h, r, fl, secrets)
	}
	return r, applyErr, nil
}

// watchAccess applies every fl.watch until ctx ends (exit 0). A round
// that fails is logged and the next one tries again: a broker restart
// must not end the sync.
func (e *env) watchAccess(ctx context.Context, h *migration.Handle, fl accessFlags, secrets users.Secrets) error {
	for {
		r, applyErr, err := e.accessOnce(ctx, h, "apply", fl, secrets)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.logger.Warn("access apply failed; trying again", "err", err, "in", fl.watch)
		case applyErr != nil:
			e.logger.Warn("access apply left something undone; trying again", "err", applyErr, "in", fl.watch)
		default:
			e.logger.Debug("access applied", "in_sync", r.InSync)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(fl.watch):
		}
	}
}

// accessReport is the output of the access commands.
type accessReport struct {
	Action string `json:"action"`
	// InSync is the plans' (before apply, for apply).
	InSync        bool           `json:"in_sync"`
	ACLs          *acls.Plan     `json:"acls"`
	Quotas        *quotas.Plan   `json:"quotas"`
	Users         *users.Plan    `json:"users"`
	Applied       *acls.Result   `json:"applied,omitempty"`
	QuotasApplied *quotas.Result `json:"quotas_applied,omitempty"`
	UsersApplied  *users.Result  `json:"users_applied,omitempty"`
}

// applyAccess applies the report's plans, logging what changed (never a
// secret); users only with a secrets file. Refusals and missing secrets
// are in the results and the returned error.
func (e *env) applyAccess(ctx context.Context, h *migration.Handle, r *accessReport, fl accessFlags, secrets users.Secrets) error {
	var errs []error
	var err error
	r.Applied, err = acls.Apply(ctx, h, r.ACLs, acls.Options{DeleteExtra: fl.deleteExtra})
	if err != nil {
		errs = append(errs, fmt.Errorf("ACLs: %w", err))
	}
	for _, b := range r.Applied.Created {
		e.logger.Info("created ACL binding", "binding", b.String())
	}
	for _, b := range r.Applied.Deleted {
		e.logger.Info("deleted ACL binding", "binding", b.String())
	}
	r.QuotasApplied, err = quotas.Apply(ctx, h, r.Quotas, fl.deleteExtra)
	if err != nil {
		errs = append(errs, fmt.Errorf("quotas: %w", err))
	}
	for _, q := range r.QuotasApplied.Set {
		e.logger.Info("set client quota", "quota", q.String())
	}
	if secrets == nil {
		// Without a secrets file, missing users are only reported.
		return errors.Join(errs...)
	}
	r.UsersApplied, err = users.Apply(ctx, h, r.Users, secrets)
	if err != nil {
		errs = append(errs, fmt.Errorf("users: %w", err))
	}
	for _, c := range r.UsersApplied.Created {
		e.logger.Info("created SCRAM user", "user", c.User, "mechanism", c.Mechanism)
	}
	return errors.Join(errs...)
}

// isRefusal reports whether err only says what the results list already
// (refusals, missing secrets), so that the command exits 1 without
// repeating it.
func isRefusal(err error) bool {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if !errors.Is(e, acls.ErrRefused) && !errors.Is(e, quotas.ErrRefused) && !errors.Is(e, users.ErrRefused) && !errors.Is(e, users.ErrNoSecret) {
			return false
		}
	}
	return true
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
	if p.Reason != "" {
		fmt.Fprintf(w, "  %s\n", p.Reason)
	}
	list("Not held by the target", p.Unheld)
	if p.Guards > 0 {
		fmt.Fprintf(w, "(%d write guards of kmigrate access protect on the target, not counted as extra)\n", p.Guards)
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
	printQuotas(w, r)
	printUsers(w, r)
	if r.Action == "verify" {
		if r.InSync {
			fmt.Fprintln(w, "OK: the target holds the source's bindings and quotas for the migration, and every source user.")
		} else {
			fmt.Fprintln(w, "DIFFERENT: run kmigrate access apply (see the lists above).")
		}
	}
}

func printQuotas(w io.Writer, r *accessReport) {
	q := r.Quotas
	fmt.Fprintf(w, "Quotas: %d equal on both sides, %d to set, %d extra on the target\n", q.Equal, len(q.Set), len(q.Extra))
	if r.QuotasApplied == nil {
		for _, c := range q.Set {
			if c.Was != nil {
				fmt.Fprintf(w, "  set %s (target has %s)\n", c.Quota, strconv.FormatFloat(*c.Was, 'f', -1, 64))
			} else {
				fmt.Fprintf(w, "  set %s\n", c.Quota)
			}
		}
	}
	for _, x := range q.Extra {
		fmt.Fprintf(w, "  extra on the target: %s\n", x)
	}
	if a := r.QuotasApplied; a != nil {
		for _, x := range a.Set {
			fmt.Fprintf(w, "  set %s\n", x)
		}
		for _, x := range a.Removed {
			fmt.Fprintf(w, "  removed %s\n", x)
		}
		for _, f := range a.Failed {
			fmt.Fprintf(w, "  refused by the target: %s\n", f)
		}
	}
}

func printUsers(w io.Writer, r *accessReport) {
	u := r.Users
	fmt.Fprintf(w, "SCRAM users: %d source credentials, %d on the target, %d missing\n", len(u.Source), u.Equal, len(u.Missing))
	if r.UsersApplied == nil {
		for _, c := range u.Missing {
			fmt.Fprintf(w, "  missing on the target: %s\n", c)
		}
	}
	if a := r.UsersApplied; a != nil {
		for _, c := range a.Created {
			fmt.Fprintf(w, "  created %s\n", c)
		}
		if len(a.NoSecret) > 0 {
			fmt.Fprintf(w, "  not created, no secret in --users-secrets: %s\n", strings.Join(a.NoSecret, ", "))
		}
		for _, f := range a.Failed {
			fmt.Fprintf(w, "  refused by the target: %s\n", f)
		}
	}
}

func (e *env) protectSub(verb, short string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			h, err := migration.Open(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			do := acls.Protect
			if verb == "unprotect" {
				do = acls.Release
			}
			p, err := do(cmd.Context(), h)
			if p == nil {
				return err
			}
			for _, b := range p.Added {
				e.logger.Info("added write guard", "binding", b.String())
			}
			for _, b := range p.Removed {
				e.logger.Info("removed write guard", "binding", b.String())
			}
			if perr := emit(e.stdout, output, p, func(w io.Writer) { printProtection(w, p) }); perr != nil {
				return perr
			}
			if err != nil {
				if errors.Is(err, acls.ErrNotAllowed) || errors.Is(err, acls.ErrNoAuthorizer) {
					return err
				}
				return silentExit{exitError}
			}
			return nil
		},
	}
	e.addClusterFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	f := cmd.Flags()
	f.StringVar(&e.overrides.TopicPrefix, "topic-prefix", "", "prefix for target topic names (default: the source names)")
	return cmd
}

func printProtection(w io.Writer, p *acls.Protection) {
	fmt.Fprintf(w, "Write guards: %s protected, %s released, %d added, %d removed\n",
		plural(len(p.Protected), "topic"), plural(len(p.Released), "topic"), len(p.Added), len(p.Removed))
	for _, b := range p.Added {
		fmt.Fprintf(w, "  added %s\n", b)
	}
	for _, b := range p.Removed {
		fmt.Fprintf(w, "  removed %s\n", b)
	}
	for _, u := range p.Unprot {
		fmt.Fprintf(w, "  NOT PROTECTED %s: %s\n", u.Topic, u.Reason)
	}
	for _, f := range p.Failed {
		fmt.Fprintf(w, "  refused by the target: %s: %s\n", f.Binding, f.Reason)
	}
}

func (e *env) usersScriptSub() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users-script",
		Short: "Print a kafka-configs.sh script that creates the SCRAM users the target lacks (passwords from environment variables)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			h, err := migration.Open(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			defer h.Close()
			p, err := users.Make(cmd.Context(), h)
			if err != nil {
				return fmt.Errorf("users: %w", err)
			}
			return users.WriteScript(e.stdout, p, strings.Join(cfg.Target.Bootstrap, ","))
		},
	}
	e.addClusterFlags(cmd)
	return cmd
}
