#!/usr/bin/env python3
"""Golden token ids from llama.cpp for the tokenizer parity tests (tests/tokenizer_parity.rs).

Run once, outside CI, with llama-cpp-python (it compiles llama.cpp; ~20 min on 2 cores):
    python3 -m venv /work/.cache/venv-llama
    /work/.cache/venv-llama/bin/pip install llama-cpp-python==0.3.36
    bash scripts/fetch-llama3-vocab.sh; bash scripts/fetch-gemma3-vocab.sh
    cargo test --test tokenizer_parity   # builds the LLaMA-3 and Gemma 3 vocab GGUFs into the cache
    /work/.cache/venv-llama/bin/python tools/tokenizer/make_goldens.py

For each vocabulary it calls Llama(vocab_only=True).tokenize(text, add_bos=True, special=True),
i.e. llama_tokenize(add_special=true, parse_special=true), and writes
tests/data/tokenizer/goldens.json: the strings (hex of their UTF-8) and, per vocabulary, the
GGUF's sha256 and one id list per string. Only the ids are committed, never llama.cpp itself.
"""
import hashlib
import json
import os
import sys

from llama_cpp import Llama, __version__ as llama_cpp_version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("BITLENS_CACHE", os.path.expanduser("~/.cache/bitlens"))

VOCABS = {
    "smollm2": os.path.join(ROOT, "tests/data/tokenizer/smollm2-135m.vocab.gguf"),
    "llama3-nopre": os.path.join(CACHE, "llama3-vocab-nopre.gguf"),
    "llama3-llama-bpe": os.path.join(CACHE, "llama3-vocab-llama-bpe.gguf"),
    "gemma3": os.path.join(CACHE, "gemma3-vocab.gguf"),
}

STRINGS = [
    # plain prose and contractions
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see they've done what we'd said, isn't it?",
    "DON'T SHOUT: I'LL, WE'VE, YOU'RE, HE'D, SHE'S",
    "'s 't 're 've 'm 'll 'd",
    "rock'n'roll o'clock ''quoted''",
    # whitespace
    " leading space",
    "trailing space ",
    "   three leading spaces",
    "a  b   c    d",
    "tab\tseparated\tvalues\t",
    "\t\tdouble tab",
    "line one\nline two\n\nline four",
    "windows\r\nline\r\nendings",
    "   \n\n   \n",
    " \t \n \r\n x",
    "\n",
    " ",
    "nbsp\u00a0here and\u3000ideographic space",
    "em\u2003space and thin\u2009space",
    # digits
    "1234567890",
    "3.14159265358979",
    "1,000,000 and 12,345.67",
    "year 2024, 99 bottles, 7 days",
    "0000000000000001",
    "x1y22z333w4444",
    "phone: +1-555-0100",
    "v1.2.3-rc.4",
    "١٢٣ Arabic-Indic and ０１２ fullwidth digits",
    "½ ¼ ² ³ Ⅻ roman",
    # code
    "def f(x):\n    return x**2 + 1\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "if (a && b || !c) { x->y = z; }",
    "const url = `https://example.com/${path}?q=1&r=2`;",
    "fn main() { println!(\"{}\", 42); }",
    "<div class=\"x\">&amp; &lt;tag&gt;</div>",
    "SELECT * FROM t WHERE a >= 10 AND b <> 'x';",
    "#include <stdio.h>\nint main(void) { return 0; }",
    "$x = @arr[0] ^ ~mask | flag;",
    "a==b!=c<=d>=e=>f",
    "path/to/file_name-v2.tar.gz",
    "__init__ __dunder__ snake_case camelCase PascalCase",
    "    indented = True  # comment\n\tmixed\t = 1",
    # punctuation runs
    "Wait... what?!?! Really!!!",
    "--- *** ___ ~~~ ===",
    "(((nested))) [[list]] {{dict}}",
    "«guillemets» „low quotes“ ‘single’ “double”",
    "em—dash en–dash hyphen-minus",
    "¡Hola! ¿Qué tal?",
    # non-Latin scripts
    "naïve café résumé",
    "東京は日本の首都です。",
    "中文字符测试，包括标点。",
    "한국어 텍스트입니다",
    "Привет, мир!",
    "Γειά σου Κόσμε",
    "مرحبا بالعالم",
    "שלום עולם",
    "हिन्दी पाठ",
    "ภาษาไทย",
    # emoji and combining marks
    "emoji 🙂😀👍🏽 and 🇺🇸 flags",
    "family 👨‍👩‍👧‍👦 zwj",
    "e\u0301 a\u0308 n\u0303 combining",
    "Z\u0351\u0352\u0353a\u0354\u0355lgo",
    "\u200b zero width \u200d joiner \ufeff bom",
    "math ∑∫∂√∞ ≤≥≠ ∀∃",
    "private \ue000 use and \U0001d400 bold A",
    # special tokens inside text
    "<|begin_of_text|>Hello",
    "Hi<|eot_id|>there",
    "User: hello<|eot_id|>Assistant: ",
    "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<|im_start|>user\nhello<|im_end|>\n",
    "<|endoftext|>text<|endoftext|>",
    "<|eot_id|><|eot_id|>",
    "not special: <|eot_id| and <eot_id|>",
    "<|reserved_special_token_5|> reserved",
    "<fim_prefix>a<fim_suffix>b<fim_middle>",
    # odd sequences
    "\x00\x01\x02 control \x7f chars",
    "\ufffd replacement \ufffd",
    "a\u0085next line",
    "`backticks` and ```fences```",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Mixed123Letters456And789Digits",
    "'''' ' ' '",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    out = {
        "engine": f"llama-cpp-python {llama_cpp_version} (vendored llama.cpp), "
        "Llama(vocab_only=True).tokenize(text, add_bos=True, special=True)",
        "strings_hex": [s.encode("utf-8").hex() for s in STRINGS],
        "vocabs": {},
    }
    for name, path in VOCABS.items():
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run `cargo test --test tokenizer_parity` first (it builds the LLaMA-3 GGUFs)")
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
        ids = [llm.tokenize(s.encode("utf-8"), add_bos=True, special=True) for s in STRINGS]
        out["vocabs"][name] = {"file": os.path.basename(path), "sha256": sha256(path), "ids": ids}
        print(f"{name}: {len(ids)} strings, {sum(map(len, ids))} ids", file=sys.stderr)
    dst = os.path.join(ROOT, "tests/data/tokenizer/goldens.json")
    with open(dst, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(dst)


if __name__ == "__main__":
    main()
