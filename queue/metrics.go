package queue

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsCollector exports asynq queue sizes to Prometheus, read from Redis
// at scrape time so every coordinator replica reports the same numbers.
type MetricsCollector struct {
	inspector *asynq.Inspector

	size      *prometheus.Desc
	tasks     *prometheus.Desc
	latency   *prometheus.Desc
	processed *prometheus.Desc
	failed    *prometheus.Desc
	paused    *prometheus.Desc
	up        *prometheus.Desc
}

var _ prometheus.Collector = (*MetricsCollector)(nil)

// NewMetricsCollector returns a collector reading through inspector.
func NewMetricsCollector(inspector *asynq.Inspector) *MetricsCollector {
	q := []string{"queue"}
	return &MetricsCollector{
		inspector: inspector,
		size:      prometheus.NewDesc("proofgrid_queue_size", "Tasks in the queue, all states but completed.", q, nil),
		tasks:     prometheus.NewDesc("proofgrid_queue_tasks", "Tasks in the queue by state.", []string{"queue", "state"}, nil),
		latency:   prometheus.NewDesc("proofgrid_queue_latency_seconds", "Age of the oldest pending task.", q, nil),
		processed: prometheus.NewDesc("proofgrid_queue_processed_today", "Tasks processed today (UTC), as asynq counts them.", q, nil),
		failed:    prometheus.NewDesc("proofgrid_queue_failed_today", "Tasks failed today (UTC), as asynq counts them.", q, nil),
		paused:    prometheus.NewDesc("proofgrid_queue_paused", "1 when the queue is paused.", q, nil),
		up:        prometheus.NewDesc("proofgrid_queue_redis_up", "1 when the queue statistics could be read from Redis.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *MetricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.size, c.tasks, c.latency, c.processed, c.failed, c.paused, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A Redis failure is reported as
// proofgrid_queue_redis_up 0 rather than failing the whole scrape.
func (c *MetricsCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.inspector.Queues()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, q := range queues {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			continue
		}
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		g(c.size, float64(info.Size), q)
		for state, n := range map[string]int{
			"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating,
		} {
			g(c.tasks, float64(n), q, state)
		}
		g(c.latency, info.Latency.Seconds(), q)
		g(c.processed, float64(info.Processed), q)
		g(c.failed, float64(info.Failed), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		g(c.paused, paused, q)
	}
}
