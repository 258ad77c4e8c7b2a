package gatewayhttp

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kmigrate/kmigrate/internal/gateway"
)

// Metrics are computed from gateway.Stats at scrape time: the request path
// pays nothing for them.
var (
	descConnections = prometheus.NewDesc("kmigrate_gateway_connections_total", "Client connections accepted.", nil, nil)
	descRequests    = prometheus.NewDesc("kmigrate_gateway_requests_total", "Client requests by API.", []string{"api"}, nil)
	descRecords     = prometheus.NewDesc("kmigrate_gateway_records_total", "Records written upstream, by cluster.", []string{"cluster"}, nil)
	descDuplicates  = prometheus.NewDesc("kmigrate_gateway_duplicate_batches_total", "Client retries answered from a batch already written.", nil, nil)
	descHeldTimeout = prometheus.NewDesc("kmigrate_gateway_held_timeouts_total", "Writes held by a switch past the hold bound (answered with a retriable error).", nil, nil)
	descLease       = prometheus.NewDesc("kmigrate_gateway_lease_refusals_total", "Writes to the source refused because the migration state could not be read recently.", nil, nil)
	descRoute       = prometheus.NewDesc("kmigrate_gateway_topic_route", "1 for the topic's current route (source, holding or target).", []string{"topic", "route"}, nil)
	descPause       = prometheus.NewDesc("kmigrate_gateway_switch_pause_seconds", "The write pause of the topic's switch through this gateway.", []string{"topic"}, nil)
	descAborted     = prometheus.NewDesc("kmigrate_gateway_switches_aborted_total", "Switches of the topic undone (writes resumed to the source).", []string{"topic"}, nil)
	descStateRead   = prometheus.NewDesc("kmigrate_gateway_state_read_timestamp_seconds", "When the migration's state was last read (0: never).", nil, nil)
	descStateOK     = prometheus.NewDesc("kmigrate_gateway_state_ok", "1 when the last read of the migration's state succeeded.", nil, nil)
)

type collector struct{ gw *gateway.Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descRequests, descRecords, descDuplicates, descHeldTimeout, descLease, descRoute, descPause, descAborted, descStateRead, descStateOK} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.gw.Stats()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	counter(descConnections, float64(st.Connections))
	for k, n := range st.Requests {
		counter(descRequests, float64(n), kmsg.NameForKey(k))
	}
	counter(descRecords, float64(st.SourceRecords), "source")
	counter(descRecords, float64(st.TargetRecords), "target")
	counter(descDuplicates, float64(st.Duplicates))
	counter(descHeldTimeout, float64(st.HeldTimeouts))
	counter(descLease, float64(st.LeaseRefusals))
	for t, side := range c.gw.Routes() {
		ch <- prometheus.MustNewConstMetric(descRoute, prometheus.GaugeValue, 1, t, side.String())
	}
	for t, p := range st.Pauses {
		ch <- prometheus.MustNewConstMetric(descPause, prometheus.GaugeValue, p.Seconds(), t)
	}
	for t, n := range st.Aborted {
		counter(descAborted, float64(n), t)
	}
	var read, ok float64
	if !st.StateRead.IsZero() {
		read = float64(st.StateRead.UnixNano()) / 1e9
	}
	if st.StateError == "" && read > 0 {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descStateRead, prometheus.GaugeValue, read)
	ch <- prometheus.MustNewConstMetric(descStateOK, prometheus.GaugeValue, ok)
}
