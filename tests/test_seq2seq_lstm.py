"""The LSTM encoder-decoder of Lake & Baroni: one forward for teacher forcing, free running and
greedy decoding, masked slice by slice, and it learns."""
import pytest
import torch

from weightmask import MaskedModel, seq2seq, train_weights
from weightmask.models import Seq2SeqLSTM
from weightmask.tasks.text import PAD, pad

from reversal import reversal
from test_masking import check_per_slice


def _batch():
    return pad([[3, 4, 5, 2], [6, 2], [7, 8, 2], [9, 2]]), pad([[3, 4, 2], [5, 6, 7, 3, 2], [2], [4, 2]])


def test_the_three_modes_agree_where_they_should():
    torch.manual_seed(0)
    m = Seq2SeqLSTM(10, 8, hidden=16, dropout=0.0).eval()
    assert isinstance(m.out, torch.nn.Linear) and m.out.weight.shape == (8, 16)
    src, tgt = _batch()
    forced, free, greedy = m(src, tgt), m(src, tgt, teacher_forcing=False), m(src, max_len=7)
    assert forced.shape == free.shape == (4, 5, 8) and greedy.shape == (4, 7, 8)
    lengths = (tgt != PAD).sum(1)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(free[i, :n], greedy[i, :n])  # both feed back their argmax
        alone = m(src[i:i + 1, :int((src[i] != PAD).sum())], tgt[i:i + 1, :n])
        torch.testing.assert_close(alone[0], forced[i, :n])  # padding of the others changes nothing
    # teacher forcing is causal: a later target token never changes an earlier step
    other = tgt.clone()
    other[1, 3] = 4
    torch.testing.assert_close(m(src, other)[1, :4], forced[1, :4])
    assert not torch.allclose(m(src, other)[1, 4], forced[1, 4])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        Seq2SeqLSTM(10, 8, hidden=0)
    with pytest.raises(ValueError, match="dropout"):
        Seq2SeqLSTM(10, 8, dropout=1.0)
    with pytest.raises(ValueError, match="max_len"):
        Seq2SeqLSTM(10, 8, hidden=4)(torch.tensor([[3, 2]]))


@pytest.mark.parametrize("forcing", [True, False])
def test_masked_slices_equal_separate_runs(forcing):
    torch.manual_seed(1)
    m = Seq2SeqLSTM(10, 8, embed=4, hidden=8).eval()
    masked = MaskedModel(m, n_samples=2, init_prob=0.5, exclude="*_embed.*")
    assert not any("embed" in n for n in masked.names) and "out.weight" in masked.names
    src, tgt = _batch()
    check_per_slice(masked, [src, tgt], {"teacher_forcing": forcing})
    check_per_slice(masked, [src], {"max_len": 6})


def test_learns_to_reverse_and_greedy_accuracy_equals_the_forced_one():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    v, data = reversal(4, 4, gen)
    m = Seq2SeqLSTM(len(v), len(v), embed=8, hidden=48, layers=1, dropout=0.0)
    before = seq2seq.sequence_accuracy(m.eval(), data)
    train_weights(m, seq2seq.batches(data, 64, gen), seq2seq.loss, steps=300, lr=1e-2, progress=False)
    m.eval()
    after = seq2seq.sequence_accuracy(m, data)
    assert before < 0.2 and after > 0.8
    assert seq2seq.sequence_accuracy(m, data, forced=True) == after


def test_dropout_acts_on_the_embeddings_and_between_layers_not_on_the_output():
    """As the authors' encoder-decoder: the decoder's top layer reaches the output layer undropped."""
    torch.manual_seed(0)
    m = Seq2SeqLSTM(10, 8, embed=8, hidden=16, dropout=0.5).train()
    tops, inputs = [], []
    m.decoder.register_forward_hook(lambda mod, args, out: tops.append(out[0]))
    m.out.register_forward_pre_hook(lambda mod, args: inputs.append(args[0]))
    src, tgt = _batch()
    m(src, tgt, teacher_forcing=False)
    assert len(tops) == len(inputs) > 0 and all(torch.equal(a, b) for a, b in zip(tops, inputs))
