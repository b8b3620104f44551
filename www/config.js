// The page's settings, in one place.

/** The model the page opens on start (a later issue replaces it with a trained model). */
export const DEFAULT_MODEL_URL = new URL('./models/default.gguf', import.meta.url).href;

/** Bytes read from a File per step: File.slice() chunks, never File.arrayBuffer() (2 GiB cap). */
export const CHUNK_BYTES = 16 * 1024 * 1024;

/** Minimum milliseconds between two progress messages from the worker. */
export const PROGRESS_INTERVAL_MS = 50;
