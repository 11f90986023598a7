package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// EngineStats are cumulative counters of an embedded engine's decode loop,
// exported on /metrics when Options.EngineStats provides them.
type EngineStats struct {
	// Steps is the number of decode steps (one token for every live trace
	// of every open prompt per step).
	Steps int64
	// Tokens is the number of generated tokens.
	Tokens int64
}

// metrics are the server's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec
	duration       prometheus.Histogram
	queued         prometheus.GaugeFunc
	running        prometheus.GaugeFunc
	disconnects    prometheus.Counter
	behaviours     *prometheus.CounterVec
	gate           *prometheus.CounterVec
	tracesStarted  prometheus.Counter
	tracesEarly    prometheus.Counter
	tracesLive     prometheus.Gauge
	tracesCanceled prometheus.Counter
	afterCancel    prometheus.Histogram
	promptTokens   prometheus.Counter
	genTokens      prometheus.Counter
	baseTokens     prometheus.Counter
}

func newMetrics(adm *admission, engineStats func() EngineStats) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepconf_http_requests_total", Help: "HTTP requests by path and status code.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "deepconf_request_duration_seconds", Help: "Time from arrival to answer of chat-completion requests that were admitted.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deepconf_queue_length", Help: "Requests waiting for a running slot.",
		}, func() float64 { return float64(adm.queued()) }),
		running: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "deepconf_requests_running", Help: "Requests holding a running slot.",
		}, func() float64 { return float64(adm.running()) }),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_client_disconnects_total", Help: "Requests whose client went away before the answer; their traces were cancelled.",
		}),
		behaviours: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepconf_answers_total", Help: "Answered requests by the vote's behaviour.",
		}, []string{"behaviour"}),
		gate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deepconf_gate_decisions_total", Help: "Confidence-gate decisions by verdict and action.",
		}, []string{"verdict", "action"}),
		tracesStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_traces_started_total", Help: "Traces started.",
		}),
		tracesEarly: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_traces_stopped_early_total", Help: "Traces stopped by DeepConf's early termination.",
		}),
		tracesLive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "deepconf_traces_live", Help: "Traces being sampled (or waiting in the engine for a slot).",
		}),
		tracesCanceled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_traces_cancelled_total", Help: "Traces whose context was cancelled (client disconnect, deadline, consensus stop).",
		}),
		afterCancel: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "deepconf_trace_tokens_after_cancel",
			Help:    "Tokens a cancelled trace received after its context was cancelled; at most 1 means it was freed within one decode step.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 64},
		}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_prompt_tokens_total", Help: "Prompt tokens of answered requests (usage.prompt_tokens).",
		}),
		genTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_generated_tokens_total", Help: "Tokens generated for answered requests, every trace included (usage.completion_tokens).",
		}),
		baseTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "deepconf_baseline_tokens_total", Help: "What max_traces complete traces would have cost for the answered requests (deepconf.tokens_baseline); minus deepconf_generated_tokens_total, the tokens saved.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.queued, m.running, m.disconnects, m.behaviours, m.gate,
		m.tracesStarted, m.tracesEarly, m.tracesLive, m.tracesCanceled, m.afterCancel, m.promptTokens, m.genTokens, m.baseTokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if engineStats != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "deepconf_engine_decode_steps_total", Help: "Decode steps of the embedded engine (traces of concurrent requests share steps).",
			}, func() float64 { return float64(engineStats().Steps) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "deepconf_engine_tokens_total", Help: "Tokens generated by the embedded engine.",
			}, func() float64 { return float64(engineStats().Tokens) }),
		)
	}
	return m
}
