"""Token vocabularies for the text tasks (SCAN words, Mathematics characters), without torchtext.

Index 0 is padding, 1 the start token, 2 the end token; every encoded sequence ends with the
end token (App. C.7.1: "an end token is applied to the end of each input sequence").
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<sos>", "<eos>")
TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"words": str.split, "chars": list}


class Vocabulary:
    """A fixed token <-> index map; ``tokenize`` is ``"words"`` (whitespace) or ``"chars"``."""

    def __init__(self, tokens: Iterable[str], tokenize: str = "words"):
        if tokenize not in TOKENIZERS:
            raise ValueError(f"tokenize must be one of {sorted(TOKENIZERS)}, got {tokenize!r}")
        self.tokenize = tokenize
        self.itos: list[str] = list(SPECIALS) + sorted(set(tokens) - set(SPECIALS))
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def of(cls, texts: Iterable[str], tokenize: str = "words") -> "Vocabulary":
        """The vocabulary of every token in ``texts``."""
        split = TOKENIZERS.get(tokenize)
        if split is None:
            raise ValueError(f"tokenize must be one of {sorted(TOKENIZERS)}, got {tokenize!r}")
        return cls((t for text in texts for t in split(text)), tokenize)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and (self.itos, self.tokenize) == (other.itos, other.tokenize)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` followed by the end token."""
        try:
            return [self.stoi[t] for t in TOKENIZERS[self.tokenize](text)] + [EOS]
        except KeyError as e:
            raise ValueError(f"token {e.args[0]!r} of {text!r} is not in the vocabulary") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to the first end token (padding and start tokens dropped)."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, SOS):
                out.append(self.itos[i])
        return (" " if self.tokenize == "words" else "").join(out)


def pad(seqs: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
    """``[len(seqs), length]`` int64 ids, right-padded with ``PAD`` (length: the longest)."""
    longest = max((len(s) for s in seqs), default=0)
    length = longest if length is None else length
    if length < longest:
        raise ValueError(f"length {length} is shorter than the longest sequence ({longest})")
    out = torch.full((len(seqs), length), PAD, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    filled = torch.arange(length)[None, :] < lengths[:, None]  # row by row, as the ids come
    out[filled] = torch.tensor([t for s in seqs for t in s], dtype=torch.long)
    return out
