//! The inference engine of the embedded backend: owns the llama.cpp contexts
//! (one KV cache per session) and runs prompt evaluation and sampling.
//!
//! It lives on the backend's dedicated worker thread, never on the async
//! runtime. Each session keeps the tokens that are in its KV cache; a new turn
//! evaluates only the tokens after the longest common prefix, trimming the
//! cache where the new prompt diverges. Constrained turns sample with a GBNF
//! grammar, checking the unconstrained choice against the grammar first; when
//! that choice is refused they mask the 512, then the 16,384 highest-logit
//! candidates, and the whole vocabulary only when too few of those are allowed
//! to give the same choice a full mask would.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Instant;

use lifeharness_core::{ModelError, ModelErrorKind};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

/// Settings of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The context size (prompt + completion) in tokens.
    pub n_ctx: u32,
    /// The largest batch of prompt tokens evaluated at once.
    pub n_batch: u32,
    /// CPU threads (none: all available).
    pub threads: Option<i32>,
    /// Sessions whose KV cache is kept; the least recently used is dropped.
    pub max_sessions: usize,
    /// Keep the KV cache of ended sessions and let a new session start from
    /// the one sharing the longest prompt prefix (e.g. the same system
    /// prompt), so a new episode evaluates only what differs. Outputs can
    /// then differ in the last bits from a cold start (batch boundaries move),
    /// so it is off unless asked for.
    pub prefix_cache: bool,
    /// Skip the top-candidates mask of constrained turns: a token the
    /// grammar refuses is always replaced under the full vocabulary mask.
    pub full_grammar_mask: bool,
}

/// Sampling settings of one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    /// The most tokens to generate.
    pub max_tokens: u32,
    /// Temperature; 0 or less is greedy.
    pub temperature: f32,
    /// Nucleus sampling mass.
    pub top_p: f32,
    /// Top-k cut.
    pub top_k: i32,
    /// Sampling seed.
    pub seed: u32,
    /// Strings that end the completion (not included in it).
    pub stop: Vec<String>,
    /// A GBNF grammar (root rule `root`) to constrain the completion.
    pub grammar: Option<String>,
    /// Keep generating past end-of-generation tokens (benchmarks: a fixed
    /// number of tokens, like llama.cpp's `--ignore-eos`).
    pub ignore_eos: bool,
}

/// What one turn cost.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TurnStats {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens reused from the session's KV cache.
    pub reused_tokens: usize,
    /// Prompt tokens evaluated this turn.
    pub evaluated_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Milliseconds spent evaluating the prompt.
    pub prompt_ms: f64,
    /// Milliseconds spent generating.
    pub generate_ms: f64,
    /// Sampled tokens the grammar accepted without masking the vocabulary.
    pub grammar_fast_path: usize,
    /// Refused tokens replaced from the grammar-masked top of the vocabulary.
    pub grammar_top_mask: usize,
    /// Sampled tokens that needed the full grammar mask.
    pub grammar_full_mask: usize,
    /// Why the grammar was not used, if it was asked for but dropped.
    pub grammar_note: Option<String>,
}

struct Session<'m> {
    ctx: LlamaContext<'m>,
    tokens: Vec<LlamaToken>,
    last_used: u64,
}

/// The engine: a model and its sessions.
pub struct Engine<'m> {
    model: &'m LlamaModel,
    backend: &'m LlamaBackend,
    config: EngineConfig,
    sessions: HashMap<String, Session<'m>>,
    /// Ended sessions kept for their prefixes (with `prefix_cache`).
    idle: Vec<Session<'m>>,
    clock: u64,
}

fn internal(message: impl Into<String>) -> ModelError {
    ModelError::new(ModelErrorKind::Internal, message)
}

impl<'m> Engine<'m> {
    /// An engine over a loaded model.
    pub fn new(model: &'m LlamaModel, backend: &'m LlamaBackend, config: EngineConfig) -> Self {
        Self {
            model,
            backend,
            config,
            sessions: HashMap::new(),
            idle: Vec::new(),
            clock: 0,
        }
    }

    /// Drops the KV cache of `session`.
    pub fn end(&mut self, session: &str) {
        let Some(ended) = self.sessions.remove(session) else {
            return;
        };
        if self.config.prefix_cache {
            self.idle.push(ended);
            self.trim_idle();
        }
    }

    /// Drops the least recently used idle sessions beyond the session limit.
    fn trim_idle(&mut self) {
        let limit = self.config.max_sessions.max(1);
        while !self.idle.is_empty() && self.sessions.len() + self.idle.len() > limit {
            let oldest = self
                .idle
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                self.idle.swap_remove(i);
            }
        }
    }

    /// Takes the idle session sharing the longest prefix with `prompt`.
    fn adopt(&mut self, prompt: &[LlamaToken]) -> Option<Session<'m>> {
        let common = |s: &Session<'_>| {
            s.tokens
                .iter()
                .zip(prompt)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let best = self
            .idle
            .iter()
            .enumerate()
            .max_by_key(|(_, s)| (common(s), s.last_used))
            .map(|(i, _)| i)?;
        Some(self.idle.swap_remove(best))
    }

    /// Tokenizes prompt text (special tokens are parsed).
    pub fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let bos_text = vocab.token_to_piece(vocab.bos(), true, None);
        let add_bos = vocab.should_add_bos() && !text.as_bytes().starts_with(&bos_text);
        vocab.tokenize(text.as_bytes(), add_bos, true)
    }

    fn session(
        &mut self,
        key: &str,
        prompt: &[LlamaToken],
    ) -> Result<&mut Session<'m>, ModelError> {
        self.clock += 1;
        let clock = self.clock;
        if !self.sessions.contains_key(key)
            && let Some(adopted) = self.adopt(prompt)
        {
            self.sessions.insert(key.to_string(), adopted);
        }
        if !self.sessions.contains_key(key) {
            while self.sessions.len() >= self.config.max_sessions.max(1) {
                let oldest = self
                    .sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.sessions.remove(&k),
                    None => break,
                };
            }
            let threads = self.config.threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or(2, |n| i32::try_from(n.get()).unwrap_or(2))
            });
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(self.config.n_ctx))
                .with_n_batch(self.config.n_batch)
                .with_n_ubatch(self.config.n_batch)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let ctx = self
                .model
                .new_context(self.backend, params)
                .map_err(|e| internal(format!("cannot create a llama.cpp context: {e}")))?;
            self.sessions.insert(
                key.to_string(),
                Session {
                    ctx,
                    tokens: Vec::new(),
                    last_used: clock,
                },
            );
        }
        let session = self
            .sessions
            .get_mut(key)
            .ok_or_else(|| internal("session vanished"))?;
        session.last_used = clock;
        Ok(session)
    }

    /// Evaluates `prompt` in `session` (reusing its cache) and generates.
    pub fn generate(
        &mut self,
        session_key: &str,
        prompt: &[LlamaToken],
        params: &GenParams,
    ) -> Result<(String, TurnStats), ModelError> {
        let n_ctx = self.config.n_ctx as usize;
        if prompt.is_empty() {
            return Err(internal("empty prompt"));
        }
        if prompt.len() >= n_ctx {
            return Err(ModelError::new(
                ModelErrorKind::ContextOverflow,
                format!(
                    "the prompt has {} tokens; the context holds {n_ctx}",
                    prompt.len()
                ),
            ));
        }
        let n_batch = self.config.n_batch.max(1) as usize;
        let full_grammar_mask = self.config.full_grammar_mask;
        let model = self.model;
        let mut stats = TurnStats {
            prompt_tokens: prompt.len(),
            ..TurnStats::default()
        };
        let mut grammar = match &params.grammar {
            Some(text) => match crate::grammar::validate(text) {
                Err(err) => {
                    stats.grammar_note = Some(format!("grammar refused before use: {err}"));
                    None
                }
                Ok(()) => match LlamaSampler::grammar(model, text, "root") {
                    Ok(sampler) => Some(sampler),
                    Err(err) => {
                        stats.grammar_note = Some(format!("llama.cpp refused the grammar: {err}"));
                        None
                    }
                },
            },
            None => None,
        };
        if let Some(note) = &stats.grammar_note {
            tracing::warn!(%note, "sampling unconstrained");
        }
        let session = self.session(session_key, prompt)?;
        let start = Instant::now();
        let common = session
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        let keep = common.min(prompt.len() - 1);
        if keep < session.tokens.len() {
            let trimmed = u32::try_from(keep)
                .ok()
                .and_then(|p0| session.ctx.clear_kv_cache_seq(Some(0), Some(p0), None).ok())
                .unwrap_or(false);
            if trimmed {
                session.tokens.truncate(keep);
            } else {
                session.ctx.clear_kv_cache();
                session.tokens.clear();
            }
        }
        stats.reused_tokens = session.tokens.len();
        let mut batch = LlamaBatch::new(n_batch, 1);
        let pending = &prompt[session.tokens.len()..];
        stats.evaluated_tokens = pending.len();
        for (chunk_index, chunk) in pending.chunks(n_batch).enumerate() {
            batch.clear();
            let last_chunk = (chunk_index + 1) * n_batch >= pending.len();
            for (i, token) in chunk.iter().enumerate() {
                let pos = i32::try_from(session.tokens.len() + i)
                    .map_err(|_| internal("position overflow"))?;
                batch
                    .add(*token, pos, &[0], last_chunk && i + 1 == chunk.len())
                    .map_err(|e| internal(format!("batch: {e}")))?;
            }
            if let Err(err) = session.ctx.decode(&mut batch) {
                session.ctx.clear_kv_cache();
                session.tokens.clear();
                return Err(internal(format!("prompt evaluation failed: {err}")));
            }
            session.tokens.extend_from_slice(chunk);
        }
        stats.prompt_ms = start.elapsed().as_secs_f64() * 1000.0;
        let start = Instant::now();
        let mut chain = if params.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_k(params.top_k.max(1)),
                LlamaSampler::top_p(params.top_p, 1),
                LlamaSampler::temp(params.temperature),
                LlamaSampler::dist(params.seed),
            ])
        };
        let vocab = model.vocab();
        let room = n_ctx - session.tokens.len();
        let budget = (params.max_tokens as usize).min(room.saturating_sub(1));
        let mut bytes: Vec<u8> = Vec::new();
        let mut logits_index = batch.n_tokens() - 1;
        let mut text = String::new();
        for _ in 0..budget {
            let mut candidates = session.ctx.token_data_array_ith(logits_index);
            let token = match grammar.as_mut() {
                None => sample(&mut candidates, &mut chain)?,
                Some(grammar) => {
                    let first = sample(&mut candidates.clone(), &mut chain)?;
                    let logit = candidates
                        .data
                        .iter()
                        .find(|d| d.id() == first)
                        .map_or(0.0, LlamaTokenData::logit);
                    let mut single = LlamaTokenDataArray::new(
                        vec![LlamaTokenData::new(first, logit, 0.0)],
                        false,
                    );
                    single.apply_sampler(grammar);
                    if single.data.first().is_some_and(|d| d.logit().is_finite()) {
                        stats.grammar_fast_path += 1;
                        first
                    } else {
                        let need = if params.temperature <= 0.0 {
                            1
                        } else {
                            usize::try_from(params.top_k.max(1)).unwrap_or(usize::MAX)
                        };
                        let from_top = if full_grammar_mask {
                            None
                        } else {
                            sample_from_top(&mut candidates, grammar, &mut chain, need)?
                        };
                        match from_top {
                            Some(token) => {
                                stats.grammar_top_mask += 1;
                                token
                            }
                            None => {
                                stats.grammar_full_mask += 1;
                                candidates.sorted = false;
                                candidates.apply_sampler(grammar);
                                if !candidates.data.iter().any(|d| d.logit().is_finite()) {
                                    return Err(internal("the grammar allows no token"));
                                }
                                sample(&mut candidates, &mut chain)?
                            }
                        }
                    }
                }
            };
            chain.accept(token);
            if let Some(g) = grammar.as_mut()
                && g.try_accept(token).is_err()
            {
                return Err(internal("the grammar sampler failed to accept a token"));
            }
            if vocab.is_eog(token) && !params.ignore_eos {
                break;
            }
            stats.generated_tokens += 1;
            bytes.extend_from_slice(&vocab.token_to_piece(token, false, None));
            text = String::from_utf8_lossy(&bytes).into_owned();
            if grammar.is_none()
                && let Some(cut) = params
                    .stop
                    .iter()
                    .filter_map(|s| text.find(s.as_str()))
                    .min()
            {
                text.truncate(cut);
                break;
            }
            if grammar.is_some() && text.ends_with('}') && complete_action(&text) {
                break;
            }
            batch.clear();
            let pos =
                i32::try_from(session.tokens.len()).map_err(|_| internal("position overflow"))?;
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| internal(format!("batch: {e}")))?;
            if let Err(err) = session.ctx.decode(&mut batch) {
                session.ctx.clear_kv_cache();
                session.tokens.clear();
                return Err(internal(format!("decoding failed: {err}")));
            }
            session.tokens.push(token);
            logits_index = 0;
        }
        stats.generate_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok((text, stats))
    }
}

/// How many of the highest-logit candidates the grammar masks, in turn,
/// before it masks the whole vocabulary.
const TOP_MASKS: [usize; 2] = [512, 16_384];

/// Samples from the grammar-masked top candidates when that is the same as
/// masking the whole vocabulary: the sampler keeps at most `need` candidates
/// (1 for greedy, top-k otherwise), and every token outside the top has a
/// lower logit than every token in it, so when the grammar allows at least
/// `need` of the top, the kept candidates are the ones a full mask would keep.
/// Tries each size of [`TOP_MASKS`]; returns `None` (candidates permuted, none
/// removed) when none is enough.
fn sample_from_top(
    candidates: &mut LlamaTokenDataArray,
    grammar: &mut LlamaSampler,
    chain: &mut LlamaSampler,
    need: usize,
) -> Result<Option<LlamaToken>, ModelError> {
    let data = &mut candidates.data;
    let mut done = 0;
    for size in TOP_MASKS {
        if data.len() <= size || need > size {
            return Ok(None);
        }
        // The first `done` are already the top `done`; order the next ones.
        data[done..]
            .select_nth_unstable_by(size - 1 - done, |a, b| b.logit().total_cmp(&a.logit()));
        let mut top = LlamaTokenDataArray::new(data[..size].to_vec(), false);
        top.apply_sampler(grammar);
        if top.data.iter().filter(|d| d.logit().is_finite()).count() >= need {
            return sample(&mut top, chain).map(Some);
        }
        done = size;
    }
    Ok(None)
}

/// Whether `text` is a complete JSON value (the grammar's sentence is done).
fn complete_action(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

fn sample(
    candidates: &mut LlamaTokenDataArray,
    chain: &mut LlamaSampler,
) -> Result<LlamaToken, ModelError> {
    candidates.apply_sampler(chain);
    candidates
        .selected_token()
        .ok_or_else(|| internal("the sampler selected no token"))
}
