//! OpenAI response bodies: whole responses, stream chunks and usage.

use serde_json::{Value, json};

use crate::engine::Summary;

/// Which endpoint a generation answers: the object names and choice shapes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chat,
    Completion,
}

/// The identity of one response, repeated in each of its chunks.
#[derive(Debug, Clone)]
pub struct Header {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub kind: Kind,
}

/// `usage`, with the cached prompt tokens as OpenAI reports them.
pub fn usage(s: &Summary) -> Value {
    json!({
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
        "prompt_tokens_details": { "cached_tokens": s.cached_tokens },
    })
}

/// llama-server's `timings` extension: what the page shows as tokens/s.
pub fn timings(s: &Summary) -> Value {
    let evaluated = s.prompt_tokens - s.cached_tokens;
    // The first token comes with the prompt's logits; the rest are decode steps.
    let decoded = s.completion_tokens.saturating_sub(1);
    let per_second = |n: usize, ms: f64| if ms > 0.0 { n as f64 * 1e3 / ms } else { 0.0 };
    json!({
        "prompt_n": evaluated,
        "prompt_ms": s.prompt_ms,
        "prompt_per_second": per_second(evaluated, s.prompt_ms),
        "predicted_n": s.completion_tokens,
        "predicted_ms": s.generation_ms,
        "predicted_per_second": per_second(decoded, s.generation_ms),
    })
}

impl Header {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.kind, chunk) {
            (Kind::Chat, false) => "chat.completion",
            (Kind::Chat, true) => "chat.completion.chunk",
            (Kind::Completion, _) => "text_completion",
        }
    }

    fn envelope(&self, chunk: bool, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": self.object(chunk),
            "created": self.created,
            "model": self.model,
            "system_fingerprint": concat!("edgellm-", env!("CARGO_PKG_VERSION")),
            "choices": choices,
        })
    }

    /// The whole answer of a request without `stream`.
    pub fn complete(&self, text: &str, s: &Summary) -> Value {
        let choice = match self.kind {
            Kind::Chat => json!({
                "index": 0,
                "message": { "role": "assistant", "content": text },
                "logprobs": null,
                "finish_reason": s.finish.as_str(),
            }),
            Kind::Completion => json!({
                "index": 0,
                "text": text,
                "logprobs": null,
                "finish_reason": s.finish.as_str(),
            }),
        };
        let mut v = self.envelope(false, json!([choice]));
        v["usage"] = usage(s);
        v["timings"] = timings(s);
        v
    }

    /// A stream chunk: the assistant role (chat's first chunk), new text, or the finish.
    pub fn chunk(&self, role: bool, text: Option<&str>, finish: Option<&Summary>) -> Value {
        let finish_reason = finish.map(|s| s.finish.as_str());
        let choice = match self.kind {
            Kind::Chat => {
                let mut delta = serde_json::Map::new();
                if role {
                    delta.insert("role".into(), "assistant".into());
                    delta.insert("content".into(), "".into());
                }
                if let Some(t) = text {
                    delta.insert("content".into(), t.into());
                }
                json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason })
            }
            Kind::Completion => json!({
                "index": 0,
                "text": text.unwrap_or(""),
                "logprobs": null,
                "finish_reason": finish_reason,
            }),
        };
        let mut v = self.envelope(true, json!([choice]));
        if let Some(s) = finish {
            v["timings"] = timings(s);
        }
        v
    }

    /// The extra last chunk of `stream_options.include_usage`: no choices, the usage.
    pub fn usage_chunk(&self, s: &Summary) -> Value {
        let mut v = self.envelope(true, json!([]));
        v["usage"] = usage(s);
        v
    }
}
