//! The HTTP endpoints. Every error is an OpenAI-shaped JSON body ([`ApiError`]); a handler
//! never panics on input.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the chat page |
//! | `GET /health` | `{"status": "ok"}` |
//! | `GET /v1/models` | the one model served |
//! | `POST /v1/chat/completions` | chat, streamed as server-sent events with `stream` |
//! | `POST /v1/completions` | plain text completion |
//! | `POST /tokenize`, `POST /detokenize` | the model's tokenizer |
//! | `GET /metrics` | Prometheus text |

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use edgellm_runtime::sampler::SamplerConfig;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

use crate::Shared;
use crate::api::error::ApiError;
use crate::api::request::{self, GenerationRequest, Prompt};
use crate::api::response::{Header, Kind};
use crate::engine::{Event, Job, Summary};

/// The chat page, served from the binary.
const PAGE: &str = include_str!("page.html");

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared.cfg.max_body;
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/tokenize", post(tokenize))
        .route("/detokenize", post(detokenize))
        .route("/metrics", get(metrics))
        .fallback(|req: Request| async move {
            ApiError::no_route(req.method().as_str(), req.uri().path())
        })
        .method_not_allowed_fallback(|req: Request| async move {
            let mut e = ApiError::no_route(req.method().as_str(), req.uri().path());
            e.status = StatusCode::METHOD_NOT_ALLOWED;
            e
        })
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .layer(middleware::from_fn_with_state(shared.clone(), count))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

/// Count every response by status code.
async fn count(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    shared.metrics.count_response(response.status().as_u16());
    response
}

/// With `--api-key`, every route but the page and `/health` needs `Authorization: Bearer
/// KEY`. The digests of the two keys are compared in constant time.
async fn authenticate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(want) = shared.key_digest else {
        return next.run(req).await;
    };
    if matches!(req.uri().path(), "/" | "/health") {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| {
            use sha2::Digest;
            <[u8; 32]>::from(sha2::Sha256::digest(k.trim().as_bytes()))
        });
    match given {
        Some(d) if bool::from(d.ct_eq(&want)) => next.run(req).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// The body, or the error for one over the size cap or unreadable.
fn body(shared: &Shared, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(shared.cfg.max_body)
        } else {
            ApiError::invalid(format!("cannot read the request body: {e}"))
        }
    })
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{
            "id": shared.id,
            "object": "model",
            "created": shared.started,
            "owned_by": "edgellm",
            "meta": {
                "n_ctx": shared.cfg.ctx,
                "n_vocab": shared.vocab,
                "slots": shared.cfg.parallel,
            },
        }],
    }))
    .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(shared.cfg.parallel),
    )
        .into_response()
}

async fn tokenize(
    State(shared): State<Arc<Shared>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(&shared, raw)?;
    let (text, add_special, parse_special) = request::parse_tokenize(&raw)?;
    let tokens = shared.tokenizer.encode(&text, add_special, parse_special);
    Ok(axum::Json(json!({ "tokens": tokens })).into_response())
}

async fn detokenize(
    State(shared): State<Arc<Shared>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(&shared, raw)?;
    let ids = request::parse_detokenize(&raw, shared.vocab)?;
    Ok(axum::Json(json!({ "content": shared.tokenizer.decode(&ids) })).into_response())
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(&shared, raw)?;
    generate(shared, request::parse_chat(&raw)?, Kind::Chat).await
}

async fn completions(
    State(shared): State<Arc<Shared>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(&shared, raw)?;
    let req = request::parse_completion(&raw, shared.vocab)?;
    generate(shared, req, Kind::Completion).await
}

/// The prompt's token ids: chat messages through the template (their contents tokenized
/// literally), text with special tokens parsed (as llama-server does), or ids as given.
fn prompt_tokens(shared: &Shared, prompt: &Prompt) -> Result<Vec<u32>, ApiError> {
    let tok = &shared.tokenizer;
    Ok(match prompt {
        Prompt::Chat(messages) => {
            let (text, literal) = shared
                .chat
                .render(messages)
                .map_err(|e| ApiError::invalid(format!("the chat template failed: {e}")))?;
            tok.encode_with_literals(&text, true, &literal)
        }
        Prompt::Text(text) => tok.encode(text, true, true),
        Prompt::Tokens(ids) => ids.clone(),
    })
}

/// Check, tokenize, queue for the engine, and answer as one JSON body or as a stream.
async fn generate(
    shared: Arc<Shared>,
    req: GenerationRequest,
    kind: Kind,
) -> Result<Response, ApiError> {
    if let Some(m) = req.model.as_deref()
        && m != shared.id
    {
        return Err(ApiError::unknown_model(m, &shared.id));
    }
    // Rendering and tokenizing up to a megabyte of text takes a while: off the I/O threads.
    let prompt = {
        let (shared, prompt) = (shared.clone(), req.prompt.clone());
        tokio::task::spawn_blocking(move || prompt_tokens(&shared, &prompt))
            .await
            .map_err(|e| ApiError::internal(format!("tokenizing failed: {e}")))??
    };
    let ctx = shared.cfg.ctx;
    if prompt.is_empty() {
        return Err(ApiError::invalid(
            "the prompt is empty (no tokens to evaluate)",
        ));
    }
    let room = ctx.saturating_sub(prompt.len());
    if room == 0 || req.max_tokens.is_some_and(|m| m > room) {
        let asked = req
            .max_tokens
            .map_or(String::new(), |m| format!(" and {m} for the completion"));
        return Err(ApiError::invalid(format!(
            "this server's context is {ctx} tokens per request (-c), but the prompt has {} tokens{asked}",
            prompt.len()
        ))
        .with_code("context_length_exceeded"));
    }
    let n = shared.counter.fetch_add(1, Ordering::Relaxed);
    let d = SamplerConfig::default();
    let s = &req.sampling;
    let sampler = SamplerConfig {
        temperature: s.temperature.unwrap_or(d.temperature),
        top_k: s.top_k.unwrap_or(d.top_k),
        top_p: s.top_p.unwrap_or(d.top_p),
        min_p: s.min_p.unwrap_or(d.min_p),
        repeat_penalty: s.repeat_penalty.unwrap_or(d.repeat_penalty),
        repeat_last_n: d.repeat_last_n,
        // Without a seed, a different one for every request.
        seed: s.seed.unwrap_or_else(|| splitmix64(n)),
    };
    let waiting = shared.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
    if waiting >= shared.cfg.queue {
        shared.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        shared.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::busy(waiting));
    }
    let (events, mut rx) = mpsc::unbounded_channel();
    let job = Job {
        prompt,
        max_tokens: req.max_tokens.unwrap_or(room),
        sampler,
        stop: req.stop.clone(),
        stream: req.stream,
        events,
    };
    if shared.jobs.send(job).is_err() {
        shared.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        return Err(ApiError::internal("the engine thread has stopped"));
    }
    shared
        .metrics
        .generation_requests
        .fetch_add(1, Ordering::Relaxed);
    let prefix = match kind {
        Kind::Chat => "chatcmpl",
        Kind::Completion => "cmpl",
    };
    let header = Header {
        id: format!("{prefix}-{n:016x}"),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: shared.id.clone(),
        kind,
    };
    if req.stream {
        return Ok(stream(header, rx, req.include_usage));
    }
    // Dropping `rx` (the client went away and this future was dropped) cancels the job.
    let mut text = String::new();
    while let Some(event) = rx.recv().await {
        match event {
            Event::Text(t) => text.push_str(&t),
            Event::Done(summary) => {
                return Ok(axum::Json(header.complete(&text, &summary)).into_response());
            }
            Event::Failed(e) => return Err(ApiError::internal(e)),
        }
    }
    Err(ApiError::internal("the engine dropped the request"))
}

/// Server-sent events: the role chunk (chat), a chunk per piece of text, the finish chunk,
/// the usage chunk if asked, then `data: [DONE]`. A task forwards the engine's events; when
/// the client disconnects, the stream and then the task end, which closes the engine's
/// channel and frees the slot at the next step.
fn stream(header: Header, mut rx: mpsc::UnboundedReceiver<Event>, include_usage: bool) -> Response {
    let (tx, out) = mpsc::channel(64);
    tokio::spawn(async move {
        let data = |v: Value| Ok(SseEvent::default().data(v.to_string()));
        if header.kind == Kind::Chat && tx.send(data(header.chunk(true, None, None))).await.is_err()
        {
            return;
        }
        loop {
            let event = tokio::select! {
                e = rx.recv() => e,
                _ = tx.closed() => return,
            };
            let sent = match event {
                Some(Event::Text(t)) => tx.send(data(header.chunk(false, Some(&t), None))).await,
                Some(Event::Done(summary)) => {
                    finish(&tx, &header, &summary, include_usage).await;
                    return;
                }
                Some(Event::Failed(e)) => {
                    let _ = tx.send(data(ApiError::internal(e).body())).await;
                    return;
                }
                None => return,
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(out))
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn finish(
    tx: &mpsc::Sender<Result<SseEvent, std::convert::Infallible>>,
    header: &Header,
    summary: &Summary,
    include_usage: bool,
) {
    let data = |v: Value| Ok(SseEvent::default().data(v.to_string()));
    let _ = tx
        .send(data(header.chunk(false, None, Some(summary))))
        .await;
    if include_usage {
        let _ = tx.send(data(header.usage_chunk(summary))).await;
    }
    let _ = tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
}

/// A well-mixed 64-bit value of `x` (seeds for requests without one).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
