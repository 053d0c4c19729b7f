"""The shared seq2seq pieces: vocabulary, Transformer encoder-decoder, loss and greedy decoding."""
import pytest
import torch

from weightmask import MaskedModel, seq2seq, train_weights
from weightmask.models import Seq2SeqTransformer
from weightmask.tasks.text import EOS, PAD, SOS, Vocabulary, pad

from reversal import reversal


def test_vocabulary_roundtrip_and_specials():
    v = Vocabulary.of(["jump twice", "walk left"])
    assert v.itos[:3] == ["<pad>", "<sos>", "<eos>"] and len(v) == 7
    ids = v.encode("walk left")
    assert ids[-1] == EOS and v.decode(ids + [5, 5]) == "walk left"
    chars = Vocabulary.of(["1+2"], tokenize="chars")
    assert chars.decode(chars.encode("2+1")) == "2+1"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode("run")
    with pytest.raises(ValueError, match="tokenize must be one of"):
        Vocabulary.of(["a"], tokenize="bytes")


def test_pad_right_pads_and_rejects_short_length():
    assert pad([[3, 2], [4]]).tolist() == [[3, 2], [4, PAD]]
    with pytest.raises(ValueError, match="shorter"):
        pad([[1, 2, 3]], length=2)


def test_tied_transformer_shares_one_matrix():
    m = Seq2SeqTransformer(9, 9, d_model=8, heads=2, d_ff=16, layers=1, tie=True)
    assert m.out.weight is m.src_embed.weight is m.tgt_embed.weight
    masked = MaskedModel(m, n_samples=1)
    assert "out.weight" not in masked.names and "src_embed.weight" in masked.names
    with pytest.raises(ValueError, match="n_src"):
        Seq2SeqTransformer(9, 8, tie=True)
    with pytest.raises(ValueError, match="heads"):
        Seq2SeqTransformer(9, 9, d_model=10, heads=4)


def test_teacher_forcing_is_causal():
    """Changing a later target token never changes the logits of earlier steps."""
    torch.manual_seed(0)
    m = Seq2SeqTransformer(7, 7, d_model=16, heads=2, d_ff=32, layers=2, dropout=0.0).eval()
    src = torch.tensor([[3, 4, 5, EOS]])
    a, b = torch.tensor([[3, 4, 5, EOS]]), torch.tensor([[3, 6, 6, EOS]])
    la, lb = m(src, a), m(src, b)
    assert torch.allclose(la[:, :2], lb[:, :2], atol=1e-5)
    assert not torch.allclose(la[:, 2:], lb[:, 2:], atol=1e-5)


def test_masked_slices_equal_separate_runs():
    torch.manual_seed(0)
    m = Seq2SeqTransformer(7, 6, d_model=16, heads=2, d_ff=32, layers=1, dropout=0.0).eval()
    masked = MaskedModel(m, n_samples=2, exclude="*_embed.*")
    src, tgt = torch.randint(3, 7, (4, 5)), torch.randint(3, 6, (4, 3))
    torch.manual_seed(1)
    both = masked(src, tgt)
    torch.manual_seed(1)
    samples = masked.sample()
    for k, sl in enumerate((slice(0, 2), slice(2, 4))):
        with masked.fixed(samples[k].to_dict()):
            assert torch.allclose(both[sl], masked(src[sl], tgt[sl]), atol=1e-5)


def test_learns_to_reverse_and_greedy_decoding_scores_it():
    """A small Transformer learns to reverse digit strings; greedy decoding is then exact."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    v, data = reversal(5, 5, gen)
    m = Seq2SeqTransformer(len(v), len(v), d_model=32, heads=4, d_ff=64, layers=2, dropout=0.0)
    before = seq2seq.sequence_accuracy(m.eval(), data)
    train_weights(m, seq2seq.batches(data, 64, gen), seq2seq.loss, steps=400, lr=3e-3, progress=False)
    after = seq2seq.sequence_accuracy(m.eval(), data)
    assert before < 0.2 and after > 0.9
    assert seq2seq.sequence_accuracy(m, data, forced=True) == after  # one teacher-forced pass
    # greedy decoding ends early once every sequence is done, and pads the rest
    logits = m(data.src[:8], max_len=20)
    assert logits.shape[:2] == (8, 20) and (logits.argmax(-1)[:, -1] == PAD).all()


def test_exact_ignores_what_follows_the_end_token():
    tgt = torch.tensor([[3, EOS, PAD], [4, EOS, PAD]])
    logits = torch.nn.functional.one_hot(torch.tensor([[3, EOS, 5], [4, 3, EOS]]), 6).float()
    assert seq2seq.exact(logits, tgt).tolist() == [True, False]
    assert SOS not in tgt


def test_embeddings_start_on_the_scale_of_the_position_encodings():
    """std d_model^-1/2, so that after the sqrt(d_model) scaling they do not drown the positions."""
    torch.manual_seed(0)
    m = Seq2SeqTransformer(500, 400, d_model=64, heads=4, d_ff=32, layers=1)
    for e in (m.src_embed, m.tgt_embed):
        assert abs(float(e.weight.std()) * 64 ** 0.5 - 1) < 0.05


def test_the_loss_per_sequence_sums_each_targets_tokens():
    """The authors' SCAN / Mathematics loss, against which the paper's beta is set: the per-token mean times
    the real target tokens, over the batch."""
    torch.manual_seed(0)
    m = Seq2SeqTransformer(9, 9, d_model=8, heads=2, d_ff=16, layers=1, dropout=0.0).eval()
    src, tgt = pad([[3, 4, 2], [5, 2]]), pad([[6, 7, 8, 2], [4, 2]])
    per_token = seq2seq.loss(m, (src, tgt))
    assert float(seq2seq.loss(m, (src, tgt), per="sequence")) == pytest.approx(float(per_token) * 6 / 2, rel=1e-5)
    with pytest.raises(ValueError, match=r"per must be one of \['token', 'sequence'\], got 'word'"):
        seq2seq.loss(m, (src, tgt), per="word")


def test_masks_leave_embeddings_and_biases_but_not_the_layer_norms():
    """As the authors' mask_filter with bias_no_mask: their LayerNorm's shift is named beta, so it is masked."""
    m = Seq2SeqTransformer(9, 9, d_model=8, heads=2, d_ff=16, layers=1, tie=True)
    left = set(seq2seq.unmasked(m))
    masked = MaskedModel(m, exclude=seq2seq.unmasked(m)).names
    assert "src_embed.weight" in left and "out.bias" in left and "transformer.encoder.layers.0.linear1.bias" in left
    assert "transformer.encoder.layers.0.self_attn.in_proj_bias" in left
    assert not any("embed" in n or (n.endswith("bias") and "norm" not in n) for n in masked)
    assert {"transformer.encoder.layers.0.norm1.weight", "transformer.encoder.layers.0.norm1.bias",
            "transformer.encoder.layers.0.linear1.weight"} <= set(masked)


def test_a_transformer_is_initialised_the_same_way_every_time_under_one_seed():
    # the embeddings once drew their values in a set's order, which follows memory addresses
    def built():
        torch.manual_seed(0)
        return Seq2SeqTransformer(12, 9, d_model=16, heads=2, d_ff=32, layers=1).state_dict()
    first = built()
    for _ in range(20):
        again = built()
        assert all(torch.equal(first[k], again[k]) for k in first)


def test_the_transformer_drops_out_its_embedded_positions_in_training_only():
    torch.manual_seed(0)
    net = Seq2SeqTransformer(12, 9, d_model=16, heads=2, d_ff=32, layers=1, dropout=0.5)
    ids = torch.randint(4, 12, (3, 5))
    net.train()
    assert (net._embed(net.src_embed, ids) == 0).any()
    net.eval()
    assert torch.equal(net._embed(net.src_embed, ids), net._embed(net.src_embed, ids))
    assert not (net._embed(net.src_embed, ids) == 0).any()
