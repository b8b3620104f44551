#!/usr/bin/env python3
"""Mainline llama.cpp (llama-cpp-python) past the file's context length: the held-out reference
for tests/ctx_past_train.rs.

Usage: python tools/ctx_goldens.py tests/fixtures/bitnet-tiny-tq2_0.gguf > tests/data/ctx/tq2_0-n_ctx-512.json
(pip install llama-cpp-python==0.3.36 builds llama.cpp from source; run once, outside CI. The
fixtures' goldens came from that version's vendored llama.cpp, on an AVX2/FMA/F16C machine;
build with CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
-DGGML_AVX512=OFF" to get the same numerics on any x86-64.)

The file's context_length is 128; the context here is n_ctx = 512 (llama.cpp warns that
n_ctx_per_seq > n_ctx_train and runs). Two cases, 200 positions each:
  * "greedy": the fixture's first prompt decoded in one llama_decode, then greedy tokens (first
    maximum), each its own llama_decode, up to position 200;
  * "forced": a 150-token prompt (a fixed pseudo-random id stream after BOS) decoded in one
    llama_decode with every position's logits, then 50 fixed pseudo-random tokens, each its own
    llama_decode.
Logits are stored exactly: each row's float32 values as little-endian bytes in hex.
n_batch = n_ubatch = 512, 1 thread, F16 KV cache, no flash attention, logits for every token.
"""
import json
import sys

import llama_cpp
import numpy as np
from llama_cpp import Llama

N_POS = 200
FORCED_PROMPT = 150
BOS = 266


def stream(n, vocab, seed):
    """n ids from xorshift64 (the same stream as the test's `prompt` helper)."""
    s, out = seed, []
    mask = (1 << 64) - 1
    while len(out) < n:
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        out.append(s % vocab)
    return out


def row(llm, i):
    """The logits of batch output i of the last decode (-1: its last) as float32."""
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, i)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def hexrows(rows):
    return "".join(np.asarray(r, dtype="<f4").tobytes().hex() for r in rows)


def main():
    path = sys.argv[1]
    fixture = json.load(open(path.replace(".gguf", ".golden.json")))
    llm = Llama(model_path=path, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=1,
                n_threads_batch=1, logits_all=True, flash_attn=False, verbose=False)
    assert llm.n_ctx() == 512
    train = llama_cpp.llama_model_n_ctx_train(llm.model)
    vocab = llm.n_vocab()

    # Greedy from the fixture's first prompt.
    prompt = fixture["cases"][0]["prompt_ids"]
    llm.reset()
    llm.eval(prompt)
    greedy, rows = [], []
    while len(prompt) + len(greedy) < N_POS:
        r = row(llm, -1)
        rows.append(r)
        tok = int(np.argmax(r))
        greedy.append(tok)
        llm.eval([tok])
    cases = [{
        "name": "greedy",
        "prompt_ids": prompt,
        "greedy_ids": greedy,
        "step_logits_hex": hexrows(rows),
    }]

    # A prompt past the file's context in one decode (every position's logits), then forced ids.
    ids = [BOS] + stream(N_POS - 1, vocab, 0x9E3779B97F4A7C15)
    prompt, forced = ids[:FORCED_PROMPT], ids[FORCED_PROMPT:]
    llm.reset()
    llm.eval(prompt)
    prompt_rows = [np.array(llm.scores[i], dtype=np.float32) for i in range(len(prompt))]
    assert np.array_equal(prompt_rows[-1], row(llm, -1))
    step_rows = []
    for t in forced:
        llm.eval([t])
        step_rows.append(row(llm, -1))
    cases.append({
        "name": "forced",
        "prompt_ids": prompt,
        "forced_ids": forced,
        "prompt_logits_hex": hexrows(prompt_rows),
        "step_logits_hex": hexrows(step_rows),
    })

    json.dump({
        "model_file": path.split("/")[-1],
        "engine": f"llama-cpp-python {llama_cpp.__version__}",
        "n_ctx_train": train,
        "n_ctx": llm.n_ctx(),
        "n_vocab": vocab,
        "settings": "n_ctx 512 (past the file's 128), n_batch = n_ubatch = 512, 1 thread, F16 KV "
                    "cache, no flash attention, logits_all; each prompt in one decode, each later "
                    "token in its own; logits as little-endian float32 hex, one row of n_vocab "
                    "per position",
        "cases": cases,
    }, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
