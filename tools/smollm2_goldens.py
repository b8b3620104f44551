#!/usr/bin/env python3
"""Greedy continuations of SmolLM2-135M-Instruct Q4_1 from mainline llama.cpp (llama-cpp-python),
the reference for tests/parity_smollm2.rs.

Usage: python tools/smollm2_goldens.py MODEL.gguf > tests/data/smollm2/greedy.json
       python tools/smollm2_goldens.py MODEL.gguf --chat > tests/data/smollm2/chat.json
(llama-cpp-python builds llama.cpp from source, ~20 minutes; run once, outside CI.)

With --chat, each case is a conversation laid out by llama.cpp's own `llama_chat_apply_template`
with the file's template (which it recognizes as ChatML), then tokenized and continued the same
way.

Each prompt is tokenized with add_bos=True, special=True, decoded in one llama_decode (output
for the last token only), then each greedy token (first maximum) is decoded on its own, one
thread, as the tiny fixtures' goldens were made. The top-1/top-2 margin of every step is kept
so a divergence can be judged.
"""
import ctypes
import json
import sys

import llama_cpp
import numpy as np
from llama_cpp import Llama

PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a little robot who",
    "def fibonacci(n):",
    "The three primary colors are",
    "Water boils at a temperature of",
]
N_TOKENS = 24
CHATS = [
    [("user", "What is the capital of France?")],
    [("system", "Answer in one word."), ("user", "What color is the sky on a clear day?")],
]


def greedy(llm, ids):
    """N_TOKENS greedy ids after `ids` and the top-1/top-2 margin of each step."""
    llm.reset()
    llm.eval(ids)
    out, margins = [], []
    for _ in range(N_TOKENS):
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32)
        order = np.argsort(-logits, kind="stable")
        tok = int(np.argmax(logits))  # first maximum
        margins.append(float(logits[order[0]] - logits[order[1]]))
        out.append(tok)
        llm.eval([tok])
    return out, margins


def chat_text(llm, messages):
    """The prompt llama.cpp's llama_chat_apply_template makes of `messages` with the file's
    template, ending with the assistant prefix."""
    tmpl = llama_cpp.llama_model_chat_template(llm.model, None)
    arr = (llama_cpp.llama_chat_message * len(messages))()
    keep = []
    for i, (role, content) in enumerate(messages):
        keep += [role.encode(), content.encode()]
        arr[i].role, arr[i].content = keep[-2], keep[-1]
    buf = ctypes.create_string_buffer(1 << 16)
    n = llama_cpp.llama_chat_apply_template(tmpl, arr, len(messages), True, buf, len(buf))
    assert 0 < n < len(buf), n
    return buf.raw[:n].decode()


def case(llm, prompt, **extra):
    ids = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    out, margins = greedy(llm, ids)
    return {
        **extra,
        "prompt": prompt,
        "prompt_ids": [int(i) for i in ids],
        "greedy_ids": out,
        "greedy_text": llm.detokenize(out, special=True).decode("utf-8", errors="replace"),
        "min_top1_top2_margin": min(margins),
        "margins": margins,
    }


def main():
    path = sys.argv[1]
    chat = "--chat" in sys.argv[2:]
    llm = Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=1, n_threads_batch=1,
                logits_all=False, verbose=False)
    if chat:
        cases = [case(llm, chat_text(llm, m), messages=[{"role": r, "content": c} for r, c in m])
                 for m in CHATS]
    else:
        cases = [case(llm, p) for p in PROMPTS]
    json.dump({
        "model_file": path.split("/")[-1],
        "engine": f"llama-cpp-python {llama_cpp.__version__}",
        "settings": "n_ctx 512, n_batch 512, 1 thread, F16 KV cache, prompt in one decode (last logits only), "
                    "then one decode per greedy token (first maximum)"
                    + ("; prompt from llama_chat_apply_template with the file's template" if chat else ""),
        "cases": cases,
    }, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
