#!/usr/bin/env python3
"""Writes the tokenizer fixtures of Tests/RFTModelTests/Fixtures/tokenizer/ (run by hand, never
by tests or CI):

  battery.json    >= 2,000 strings: a seeded random battery plus hand-picked edge cases
  expected.json   Hugging Face `tokenizers` ids of every battery string for
                    gpt2                GPT-2's real vocabulary, built from gpt2.tiktoken (below)
                    smollm2_gguf        SmolLM2-135M-Instruct as transformers loads it from the GGUF
                                        (AutoTokenizer.from_pretrained(dir, gguf_file=...))
                    smollm2_smollm      the same vocabulary with SmolLM2's own pre-tokenizer (its
                                        tokenizer.json on the Hub, and llama.cpp's `smollm`):
                                        Digits(individual_digits) + ByteLevel
                    tiny_llama3/qwen2   two small BPEs trained here on the battery (their
                                        tokenizer.json files are committed next to it)
  splits.json     each pre-tokenizer's pieces (UTF-8 byte lengths) of every battery string
  classes.json    which code points Hugging Face's regex engine calls \\p{L}, \\p{N}, \\s
  tiny_llama3.json, tiny_qwen2.json   the two small tokenizers

GPT-2's vocabulary and merges are derived from the tiktoken ranks with transformers'
TikTokenConverter.extract_vocab_merges_from_model (each token's splits into two tokens, ordered
by rank), the tokenizer built as the converter builds it (ignore_merges=True), with GPT-2's own
pre-tokenizer (ByteLevel, use_regex) and <|endoftext|> = 50256. The script checks that this
agrees with ignore_merges=False and with the tiktoken library on every string, and prints it.

The vocabularies themselves are not committed: scripts/fetch-models puts them in the cache
(${RFT_CACHE:-~/.cache/rft}), where this script and the tests read them.

Usage: scripts/make-tokenizer-fixtures.py   (creates .build-venv/ with pinned packages first)
"""
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".build-venv")
OUT = os.path.join(ROOT, "Tests", "RFTModelTests", "Fixtures", "tokenizer")
CACHE = os.environ.get("RFT_CACHE", os.path.expanduser("~/.cache/rft"))
PINNED = ["tokenizers==0.23.3", "transformers==5.24.0", "gguf==0.19.0", "tiktoken==0.14.0"]


def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        wheels = [os.path.join(d, f) for d in ("/opt/wheels",) if os.path.isdir(d) for f in os.listdir(d) if f.startswith("torch-")]
        subprocess.check_call([python, "-m", "pip", "install", "-q", *wheels, *PINNED])
    os.execv(python, [python, *sys.argv])


GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

EDGE_CASES = [
    "", " ", "  ", "   ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\t", "\t\t", " \t\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\x0b\x0c",
    "a", "ab", "hello", "Hello world", "Hello World!", "hello  world", "hello   world", "hello \tworld", "hello\n\nworld",
    "hello \n world", "  leading", "trailing  ", "trailing \n", " x", "x ", "a b c d e f", "a  b  c",
    "I'm", "it's", "IT'S", "It'S", "we'LL", "we'll", "they're", "They'RE", "you've", "YOU'VE", "I'd", "I'D", "'s", "'S", "'t",
    "'re", "'ll", "'ve", "'m", "'d", "'x", "''", "'''s", "'ſ", "it'ſ", "don't", "DON'T", "y'all", "rock'n'roll", "'sword",
    "'Sword", "' s", " 's", "'s's", "x'll've",
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678901234567890", "3.14159", "1,000,000", "-42", "+7",
    "0x1F", "1e10", "2024-01-01", "12:30:45", "v1.2.3", "a1b2c3", "abc123def", "123abc", " 123", "  123", "a  1", "a 1 2 3",
    "１２３", "٣٤٥", "१२३", "²³", "½", "Ⅻ", "①②③", "𝟙𝟚𝟛", "$100", "€50", "100%", "#1",
    "café", "naïve", "Crème brûlée", "façade", "Ångström", "Zürich", "São Paulo", "e\u0301", "a\u0308o\u0308",
    "\u0301", "\u0301\u0301", " \u0301", "x\u20dd", "ﬁ", "Straße", "ǅ", "İstanbul", "ΑΒΓ αβγ", "Привет, мир!",
    "你好，世界", "日本語のテキスト", "한국어 텍스트", "สวัสดี", "مرحبا بالعالم", "שלום", "नमस्ते दुनिया",
    "😀", "😀😀", " 😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "🏳️‍🌈", "❤️", "©®™", "→←↑↓", "∑∫√∞", "\ufeff", "\ufeffhello",
    "\u200b", "a\u200bb", "\u200d", "\ufffd", "\uffff", "\ufffe", "\ue000", "\U000f0000", "\U0010ffff", "\ud7ff", "\x00",
    "\x01\x02\x03", "\x7f", "\u0080", "\u00ad", "\U0001f600\U0001f601",
    "<|endoftext|>", "hello<|endoftext|>world", "hello <|endoftext|> world", "<|endoftext|><|endoftext|>", "<|endofte",
    "<|endoftext|", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n", "<|im_start|><|im_end|>",
    "<|im_start|im_end|>", "<|im_start", "x<|im_end|>y", " <|im_start|> ", "<repo_name>x<file_sep>y", "<think>ok</think>",
    "a <mask> b", "a<mask>b", "a  <mask>", "<mask>", "\n<mask>\n",
    "def f(x):\n    return x + 1\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n", "if x == 1:\r\n    pass\r\n",
    '{"key": [1, 2, 3], "nested": {"a": null}}', "<div class=\"x\">Hi</div>", "SELECT * FROM t WHERE id = 42;",
    "x = y ** 2 // 3", "#include <stdio.h>\nint main() { return 0; }", "    indented\n        more\n", "a\tb\tc",
    "=" * 80, "-" * 100, " " * 70, "\n" * 30, "a" * 300, "ab" * 150, "1" * 200, "😀" * 40, "é" * 100, "\t " * 50,
]

WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by word but "
         "not what all were we when your can said there use an each which she do how their if will up other about out many "
         "then them these so some her would make like him into time has look two more write go see number no way could "
         "people my than first water been call who oil its now find long down day did get come made may part").split()
ACCENTED = "café naïve résumé jalapeño über Straße Ærø smørrebrød Łódź Dvořák crème brûlée façade piñata coöperate".split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'lL", "'D", "'M"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<mask>", "<think>"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\u00a0", "\u3000", "\u2009", "   ", "\t\t", "\r"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "->", "=>", "::", "!=", "()", "[]", "{}", "«»", "“”", "¿¡"]
EMOJI_ZWJ = ["👨‍👩‍👧", "👩‍💻", "🏳️‍🌈", "👍🏻", "👍🏿", "🇯🇵", "✋🏾", "🧑‍🤝‍🧑", "❤️‍🔥", "🐻‍❄️"]
RANGES = {
    "cjk": (0x4E00, 0x9FFF), "hiragana": (0x3041, 0x3096), "hangul": (0xAC00, 0xD7A3), "cyrillic": (0x0410, 0x044F),
    "greek": (0x0391, 0x03C9), "arabic": (0x0621, 0x064A), "hebrew": (0x05D0, 0x05EA), "devanagari": (0x0900, 0x097F),
    "thai": (0x0E01, 0x0E5B), "combining": (0x0300, 0x036F), "emoji": (0x1F300, 0x1F64F), "math": (0x2200, 0x22FF),
    "latin_ext": (0x0100, 0x024F), "fullwidth": (0xFF01, 0xFF5E), "symbols": (0x2600, 0x26FF),
}


def assigned(c):
    """Assigned in Python's Unicode (14.0), so every engine since agrees on its category."""
    import unicodedata
    return not (0xD800 <= c < 0xE000) and unicodedata.category(chr(c)) != "Cn"


def random_fragment(rng):
    kind = rng.random()
    if kind < 0.25:
        w = rng.choice(WORDS)
        return rng.choice([w, w.capitalize(), w.upper(), " " + w, " " + w.capitalize()])
    if kind < 0.33:
        return str(rng.randrange(10 ** rng.randint(1, 20))) if rng.random() < 0.8 else f"{rng.random() * 1000:.{rng.randint(1, 5)}f}"
    if kind < 0.43:
        return rng.choice(WHITESPACE) * rng.randint(1, 4)
    if kind < 0.50:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 3)))
    if kind < 0.55:
        return rng.choice(CONTRACTIONS)
    if kind < 0.60:
        return rng.choice(ACCENTED)
    if kind < 0.63:
        return rng.choice(SPECIALS)
    if kind < 0.66:
        return rng.choice(EMOJI_ZWJ)
    if kind < 0.90:
        name = rng.choice(sorted(RANGES))
        lo, hi = RANGES[name]
        chars = [c for c in (rng.randint(lo, hi) for _ in range(rng.randint(1, 6))) if assigned(c)]
        return ("e" if name == "combining" else "") + "".join(map(chr, chars))
    # Any assigned code point, 1-4 bytes of UTF-8.
    out = []
    while len(out) < rng.randint(1, 4):
        c = rng.choice([rng.randint(0x20, 0x7F), rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
        if assigned(c):
            out.append(chr(c))
    return "".join(out)


def make_battery():
    rng = random.Random(20240513)
    battery = list(EDGE_CASES)
    while len(battery) < 2200:
        battery.append("".join(random_fragment(rng) for _ in range(rng.randint(1, 14))))
    for _ in range(20):  # a few long strings (pieces past the BPE's short-word path)
        battery.append("".join(random_fragment(rng) for _ in range(rng.randint(60, 200))))
    return battery


def class_tables():
    from tokenizers import Regex, pre_tokenizers
    cps = [c for c in range(1, 0x110000) if not (0xD800 <= c < 0xE000)]
    text = "".join(map(chr, cps))

    def matched(pattern):
        rest = set()
        for piece, _ in pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(text):
            rest.update(map(ord, piece))
        return sorted(set(cps) - rest)

    def ranges(xs):
        out = []
        for x in xs:
            if out and out[-1][1] == x - 1:
                out[-1][1] = x
            else:
                out.append([x, x])
        return out

    return {"L": ranges(matched(r"\p{L}")), "N": ranges(matched(r"\p{N}")), "S": ranges(matched(r"\s"))}


def pre_tokenizer(kind):
    from tokenizers import Regex, pre_tokenizers as p
    if kind == "gpt2":
        return p.ByteLevel(add_prefix_space=False, use_regex=True)
    if kind == "smollm":
        return p.Sequence([p.Digits(individual_digits=True), p.ByteLevel(add_prefix_space=False, use_regex=True)])
    pattern = {"llama3": LLAMA3_PATTERN, "qwen2": QWEN2_PATTERN}[kind]
    return p.Sequence([p.Split(Regex(pattern), behavior="isolated", invert=False), p.ByteLevel(add_prefix_space=False, use_regex=False)])


def gpt2_from_tiktoken(path, ignore_merges=True):
    from tokenizers import AddedToken, Tokenizer, decoders
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import TikTokenConverter
    vocab, merges = TikTokenConverter(vocab_file=path).extract_vocab_merges_from_model(path)
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizer("gpt2")
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    assert tok.token_to_id("<|endoftext|>") == 50256
    return tok


def train_tiny(kind, battery):
    from tokenizers import AddedToken, Tokenizer, decoders, models, trainers, pre_tokenizers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer(kind)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1200, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.train_from_iterator(battery * 2, trainer=trainer)
    # Exercise the other added-token flags: lstrip, and a normalized non-special token.
    tok.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    tok.add_tokens([AddedToken("<think>", special=False, normalized=True)])
    spec = json.loads(tok.to_str())
    spec["model"]["ignore_merges"] = kind == "llama3"  # as Llama 3's tokenizer.json
    return Tokenizer.from_str(json.dumps(spec)), spec


def main():
    ensure_venv()
    import tiktoken
    import tokenizers
    import transformers
    from tiktoken.load import load_tiktoken_bpe
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tiktoken_path = os.path.join(CACHE, "gpt2.tiktoken")
    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not (os.path.exists(tiktoken_path) and os.path.exists(os.path.join(CACHE, gguf_name))):
        sys.exit(f"run scripts/fetch-models first (nothing in {CACHE})")
    os.makedirs(OUT, exist_ok=True)
    battery = make_battery()
    ids = lambda tok: [tok.encode(s, add_special_tokens=False).ids for s in battery]

    gpt2 = gpt2_from_tiktoken(tiktoken_path)
    expected = {"gpt2": ids(gpt2)}
    # Cross-checks of the GPT-2 derivation (printed, not stored).
    plain = ids(gpt2_from_tiktoken(tiktoken_path, ignore_merges=False))
    enc = tiktoken.Encoding(name="gpt2-local", pat_str=GPT2_PATTERN, mergeable_ranks=load_tiktoken_bpe(tiktoken_path),
                            special_tokens={"<|endoftext|>": 50256})
    via_tiktoken = [enc.encode(s, allowed_special="all") for s in battery]
    print(f"gpt2: ignore_merges=False differs on {sum(a != b for a, b in zip(expected['gpt2'], plain))} strings, "
          f"the tiktoken library on {sum(a != b for a, b in zip(expected['gpt2'], via_tiktoken))}")

    smol = AutoTokenizer.from_pretrained(CACHE, gguf_file=gguf_name).backend_tokenizer
    expected["smollm2_gguf"] = ids(smol)
    hub = Tokenizer.from_str(smol.to_str())
    hub.pre_tokenizer = pre_tokenizer("smollm")
    expected["smollm2_smollm"] = ids(hub)
    print(f"smollm2: transformers' GGUF tokenizer and the smollm pre-tokenizer differ on "
          f"{sum(a != b for a, b in zip(expected['smollm2_gguf'], expected['smollm2_smollm']))} strings")

    for kind in ("llama3", "qwen2"):
        tok, spec = train_tiny(kind, battery)
        with open(os.path.join(OUT, f"tiny_{kind}.json"), "w") as f:
            json.dump(spec, f, ensure_ascii=False, separators=(",", ":"))
        expected[f"tiny_{kind}"] = ids(tok)

    for name, rows in expected.items():  # decoding must give the text back
        tok = {"gpt2": gpt2, "smollm2_gguf": smol, "smollm2_smollm": hub}.get(name)
        if tok is not None:
            bad = sum(tok.decode(r, skip_special_tokens=False) != s for r, s in zip(rows, battery))
            print(f"{name}: HF decode differs from the text on {bad} strings")

    splits = {kind: [[len(piece) for piece, _ in pre_tokenizer(kind).pre_tokenize_str(s)] for s in battery]
              for kind in ("gpt2", "llama3", "qwen2", "smollm")}

    # Throughput of HF on the battery, one thread (the Swift side prints the ratio).
    os.environ["RAYON_NUM_THREADS"] = "1"
    timing = {}
    for name, tok in (("gpt2", gpt2), ("smollm2_smollm", hub)):
        start = time.perf_counter()
        for s in battery:
            tok.encode(s, add_special_tokens=False)
        timing[name] = time.perf_counter() - start

    versions = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__, "tiktoken": tiktoken.__version__}
    def dump(name, obj):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
    dump("battery.json", {"versions": versions, "strings": battery})
    dump("expected.json", {"versions": versions, **expected})
    dump("splits.json", splits)
    dump("classes.json", class_tables())
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(battery)} strings; fixtures {total / 1e6:.2f} MB in {OUT}; HF encode (1 call per string): "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in timing.items()))


if __name__ == "__main__":
    main()
