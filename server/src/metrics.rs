//! Counters for `GET /metrics`, in Prometheus' text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Everything `/metrics` reports. Counters only grow; gauges are current values.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses sent, by HTTP status code.
    pub responses: Mutex<BTreeMap<u16, u64>>,
    /// Requests accepted by the generation endpoints (queued for the engine).
    pub generation_requests: AtomicU64,
    /// Requests refused with 503 because the queue was full.
    pub rejected: AtomicU64,
    /// Requests that finished (stop or length).
    pub completed: AtomicU64,
    /// Requests whose client went away before they finished.
    pub cancelled: AtomicU64,
    /// Prompt tokens evaluated.
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens found in a slot's cache and not evaluated again.
    pub cached_tokens: AtomicU64,
    /// Tokens generated.
    pub generated_tokens: AtomicU64,
    /// Time spent in forward steps, in microseconds.
    pub step_micros: AtomicU64,
    /// Requests waiting for a slot (gauge).
    pub queue_depth: AtomicUsize,
    /// Requests in a slot (gauge).
    pub active: AtomicU64,
}

impl Metrics {
    pub fn count_response(&self, status: u16) {
        let mut map = self.responses.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(status).or_default() += 1;
    }

    /// The text exposition: `# HELP`, `# TYPE` and the samples of every metric.
    pub fn render(&self, slots: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP edgellm_{name} {help}");
            let _ = writeln!(out, "# TYPE edgellm_{name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "edgellm_{name}{labels} {v}");
            }
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let one = |v: f64| [(String::new(), v)];
        let responses: Vec<(String, f64)> = self
            .responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), *n as f64))
            .collect();
        metric(
            "http_responses_total",
            "counter",
            "HTTP responses sent, by status code.",
            &responses,
        );
        metric(
            "requests_total",
            "counter",
            "Generation requests accepted (chat and text completions).",
            &one(get(&self.generation_requests)),
        );
        metric(
            "requests_rejected_total",
            "counter",
            "Generation requests refused with 503 because the queue was full.",
            &one(get(&self.rejected)),
        );
        metric(
            "requests_completed_total",
            "counter",
            "Generation requests that finished.",
            &one(get(&self.completed)),
        );
        metric(
            "requests_cancelled_total",
            "counter",
            "Generation requests whose client disconnected first.",
            &one(get(&self.cancelled)),
        );
        metric(
            "prompt_tokens_total",
            "counter",
            "Prompt tokens evaluated.",
            &one(get(&self.prompt_tokens)),
        );
        metric(
            "prompt_tokens_cached_total",
            "counter",
            "Prompt tokens reused from a slot's KV cache instead of being evaluated.",
            &one(get(&self.cached_tokens)),
        );
        metric(
            "generated_tokens_total",
            "counter",
            "Tokens generated.",
            &one(get(&self.generated_tokens)),
        );
        let busy = get(&self.step_micros) / 1e6;
        metric(
            "busy_seconds_total",
            "counter",
            "Seconds spent in forward steps.",
            &one(busy),
        );
        let rate = if busy > 0.0 {
            get(&self.generated_tokens) / busy
        } else {
            0.0
        };
        metric(
            "generated_tokens_per_second",
            "gauge",
            "Tokens generated per busy second since the start, all sequences together.",
            &one(rate),
        );
        metric(
            "queue_depth",
            "gauge",
            "Requests waiting for a free slot.",
            &one(self.queue_depth.load(Ordering::Relaxed) as f64),
        );
        metric(
            "active_sequences",
            "gauge",
            "Requests being generated.",
            &one(get(&self.active)),
        );
        metric(
            "slots",
            "gauge",
            "KV-cache slots (--parallel).",
            &one(slots as f64),
        );
        out
    }
}
