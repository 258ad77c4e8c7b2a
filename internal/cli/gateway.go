package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmigrate/kmigrate/internal/config"
	"github.com/kmigrate/kmigrate/internal/gateway"
	"github.com/kmigrate/kmigrate/internal/gateway/gatewayhttp"
	"github.com/kmigrate/kmigrate/internal/httpapi"
)

func (e *env) gatewayCommand() *cobra.Command {
	var (
		listen, advertise, httpAddr string
		nodeID                      int32
		switchTimeout, pollInterval time.Duration
		l                           listenerFlags
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Serve the Kafka protocol in front of both clusters, so producers switch at promotion without a restart",
		Long: `gateway speaks the Kafka protocol to producers (docs/gateway.md). Clients
bootstrap from --listen; the gateway answers as the only broker of the
migration's topics (the topics the mirror records in its state, so run
kmigrate mirror first). Writes to a topic go to the source until the topic
is promoted, then to the target, under its target name.

Promote through the gateway with kmigrate gateway promote (or POST
/v1/gateway/promote/TOPIC on --http): the gateway holds new writes to the
topic, waits for the ones in flight, waits until the mirror has copied
everything (lag zero, from the state), records the promotion and releases the
held writes to the target. Idempotent producers keep their producer id and
sequence numbers across the switch; transactional producers are refused.

Other gateways of the migration, and the mirror, follow the promotion from
the state within --poll-interval.`,
		Example: `  kmigrate gateway -f migration.yaml --listen :9092 --advertise gw1.example.com:9092 --http :9465
  kmigrate gateway promote --http gw1.example.com:9465 --topic orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				return usageError{errors.New("--listen is required")}
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			tlsCfg, users, err := l.load()
			if err != nil {
				return usageError{err}
			}
			name, topics, err := gateway.Resolve(cmd.Context(), cfg, e.logger)
			if err != nil {
				return err
			}
			gw, err := gateway.New(gateway.Options{
				Listen: listen, Advertise: advertise, NodeID: nodeID, TLS: tlsCfg, Users: users,
				Source: &cfg.Source, Target: &cfg.Target, Migration: name, Topics: topics,
				SwitchTimeout: switchTimeout, PollInterval: pollInterval, Logger: e.logger,
			})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if httpAddr != "" {
				mux := http.NewServeMux()
				gatewayhttp.Register(mux, gw)
				addr, err := httpapi.Serve(ctx, httpAddr, mux, e.logger)
				if err != nil {
					gw.Close()
					return usageError{err}
				}
				e.logger.Info("serving /healthz, /metrics, /v1/gateway and POST /v1/gateway/promote/{topic}", "addr", addr.String())
			}
			e.logger.Info("gateway serving", "migration", name, "listen", gw.Addr(), "topics", len(topics))
			return gw.Run(ctx)
		},
	}
	e.addClusterFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address clients connect to, HOST:PORT (required)")
	f.StringVar(&advertise, "advertise", "", "HOST:PORT the gateway tells clients to connect to (default: the listen address)")
	f.Int32Var(&nodeID, "node-id", 0, "broker id the gateway gives itself")
	f.StringVar(&httpAddr, "http", "", "serve status and promotion over HTTP on this address")
	f.DurationVar(&switchTimeout, "switch-timeout", 30*time.Second, "bound of a switch; past it the switch is undone and writes resume to the source")
	f.DurationVar(&pollInterval, "poll-interval", time.Second, "how often the migration state is read for promotions made elsewhere")
	f.StringVar(&l.cert, "listen-tls-cert", "", "PEM certificate of the gateway's TLS listener (with --listen-tls-key)")
	f.StringVar(&l.key, "listen-tls-key", "", "PEM key of the gateway's TLS listener")
	f.StringVar(&l.clientCA, "listen-tls-client-ca", "", "PEM CA that must sign client certificates (mutual TLS)")
	f.StringVar(&l.users, "listen-users", "", "file of SASL/PLAIN users clients authenticate as, one user:password per line")
	cmd.AddCommand(e.gatewayPromoteCommand())
	return cmd
}

// listenerFlags are the gateway's own client-facing security settings,
// independent of the clusters'.
type listenerFlags struct{ cert, key, clientCA, users string }

func (l listenerFlags) load() (*tls.Config, map[string]config.Secret, error) {
	var (
		tlsCfg *tls.Config
		users  map[string]config.Secret
		err    error
	)
	switch {
	case (l.cert == "") != (l.key == ""):
		return nil, nil, errors.New("--listen-tls-cert and --listen-tls-key go together")
	case l.clientCA != "" && l.cert == "":
		return nil, nil, errors.New("--listen-tls-client-ca needs --listen-tls-cert and --listen-tls-key")
	case l.cert != "":
		if tlsCfg, err = gateway.ServerTLS(l.cert, l.key, l.clientCA); err != nil {
			return nil, nil, err
		}
	}
	if l.users != "" {
		if users, err = gateway.LoadUsers(l.users); err != nil {
			return nil, nil, err
		}
	}
	return tlsCfg, users, nil
}

func (e *env) gatewayPromoteCommand() *cobra.Command {
	var httpAddr, topic string
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Switch a topic's writes to the target through a running gateway",
		Long: `promote asks the gateway at --http to switch --topic: it answers once
writes go to the target (with the measured pause) or the switch was undone
(exit 1, with the reason).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if httpAddr == "" || topic == "" {
				return usageError{errors.New("--http and --topic are required")}
			}
			sw, err := promoteVia(cmd.Context(), httpAddr, topic)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: writes go to the target; writes were paused %dms\n", sw.Topic, sw.PauseMillis)
			return nil
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "", "the gateway's --http address, HOST:PORT")
	cmd.Flags().StringVar(&topic, "topic", "", "the topic to switch (source name)")
	return cmd
}

func promoteVia(ctx context.Context, addr, topic string) (*gatewayhttp.Switched, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/v1/gateway/promote/"+url.PathEscape(topic), nil)
	if err != nil {
		return nil, usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the gateway: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the gateway's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p gatewayhttp.Problem
		if json.Unmarshal(body, &p) == nil && p.Error != "" {
			return nil, fmt.Errorf("gateway: %s", p.Error)
		}
		return nil, fmt.Errorf("gateway: %s", resp.Status)
	}
	var sw gatewayhttp.Switched
	if err := json.Unmarshal(body, &sw); err != nil {
		return nil, fmt.Errorf("read the gateway's answer: %w", err)
	}
	return &sw, nil
}
