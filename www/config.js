// The page's settings, in one place.

/** The model the page opens on start: a small BitNet b1.58 trained on Shakespeare (models/README.md). */
export const DEFAULT_MODEL_URL = new URL('./models/shakespeare-bitnet.gguf', import.meta.url).href;

/**
 * Built-in choices offered next to the file input. The twin is the same model with every norm
 * gamma divided by sqrt(n): as stored it produces rubbish, rescaled it equals the faithful file.
 */
export const BUILT_IN_MODELS = [
  { label: 'the trained model', url: DEFAULT_MODEL_URL },
  {
    label: 'the pre-scaled twin',
    url: new URL('./models/shakespeare-bitnet-prescaled.gguf', import.meta.url).href,
  },
];

/** Bytes read from a File per step: File.slice() chunks, never File.arrayBuffer() (2 GiB cap). */
export const CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * File.slice reads kept in flight while a chunk is copied into wasm memory (JS memory outside
 * wasm: at most this many chunks). 3 loaded 2B-4T's 1.18 GB in 4.2-5.5 s where 1 took 7.3-11.6 s.
 */
export const READ_AHEAD_CHUNKS = 3;

/** Minimum milliseconds between two progress messages from the worker. */
export const PROGRESS_INTERVAL_MS = 50;

/** Defaults of the generation panel. */
export const GENERATE_DEFAULTS = {
  prompt: 'Ham.\nTo be, or not to be,', seed: 42, maxTokens: 32, temperature: 0,
  // The sampler's other settings, as the CLI's defaults (SamplerConfig::default).
  topK: 40, topP: 0.95, repeatPenalty: 1,
};

/**
 * What wasm32 can hold: 4 GiB of memory in all (one allocation, the file's buffer, holds at
 * most 2 GiB - 1: the core's rule, src/api/mod.rs `file_capacity`); `runtime` is kept free for
 * the module, the tokenizer and temporary buffers.
 */
export const MEMORY_LIMITS = { maxMemory: 4 * 2 ** 30, runtime: 64 * 2 ** 20 };
