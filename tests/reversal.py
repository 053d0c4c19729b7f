"""A toy seq2seq task for the model tests: reverse a short string of digit words."""
import torch

from weightmask import seq2seq
from weightmask.tasks.text import Vocabulary


def reversal(digits: int, longest: int, gen: torch.Generator, n: int = 300):
    """(vocabulary, encoded pairs) of ``n`` strings of 1..longest-1 digits below ``digits``, reversed."""
    words = [" ".join(str(d) for d in torch.randint(0, digits, (int(k),), generator=gen).tolist())
             for k in torch.randint(1, longest, (n,), generator=gen)]
    pairs = [(w, " ".join(reversed(w.split()))) for w in words]
    v = Vocabulary.of(w for w, _ in pairs)
    return v, seq2seq.Encoded.of(pairs, v)
