"""Self-checks of the reference against the statements of docs/official-glm.md (run before trusting new fixtures).

    /root/venv-ref/bin/python Tools/reference/test_glm_ref.py
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glm_ref import GLMConfig, GLMModel, build_mask, gelu, glm_loss  # noqa: E402


def tiny(**kw):
    torch.manual_seed(0)
    cfg = GLMConfig(num_layers=2, hidden_size=16, num_attention_heads=2, vocab_size=40, max_sequence_length=16, **kw)
    m = GLMModel(cfg).double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # away from the init so every term matters
    return m


def test_mask_rule():
    # §1.3: M[i, j] = 1 iff j < sep or j <= i; per sample; memory columns all ones.
    s, seps = 6, [0, 2, 6]
    M = build_mask(torch.tensor(seps), 3, s, 0, torch.float64)
    for b, sep in enumerate(seps):
        for i in range(s):
            for j in range(s):
                assert M[b, 0, i, j] == float(j < sep or j <= i)
    M = build_mask(torch.tensor(3), 2, s, 4, torch.float64)
    assert M.shape == (1, 1, s, 4 + s) and (M[..., :4] == 1).all()
    # A scalar sep equals the same sep given per sample.
    assert (build_mask(torch.tensor(3), 2, s, 0, torch.float64) == build_mask(torch.tensor([3, 3]), 2, s, 0, torch.float64)).all()
    # Explicit masks are sliced to their last m+s columns.
    E = torch.rand(2, 1, s, 10)
    assert (build_mask(E, 2, s, 1, torch.float64) == E[..., -(s + 1):].double()).all()


def test_sep_equals_explicit_mask():
    m = tiny()
    ids = torch.randint(0, 40, (2, 7))
    pos = torch.stack([torch.arange(7).expand(2, 7), torch.randint(0, 3, (2, 7))], 1)
    sep = torch.tensor([3, 5])
    a, _ = m(ids, pos, sep)
    b, _ = m(ids, pos, build_mask(sep, 2, 7, 0, torch.float64))
    assert torch.allclose(a, b, atol=1e-12)


def test_memory_equals_one_pass():
    # §1.5: context with sep = c, then chunks against memory (sep 0) == one pass with the equivalent mask.
    m = tiny()
    ids = torch.randint(0, 40, (1, 9))
    pos = torch.stack([torch.arange(9).view(1, 9), torch.zeros(1, 9, dtype=torch.long)], 1)
    full, _ = m(ids, pos, torch.tensor([5]))
    out, mems = m(ids[:, :5], pos[..., :5], torch.tensor([5]), return_memory=True)
    assert len(mems) == 3 and mems[0].shape == (1, 5, 16)
    for t in range(5, 9):
        o, mems = m(ids[:, t:t + 1], pos[..., t:t + 1], torch.tensor([0]), mems=mems, return_memory=True)
        assert torch.allclose(o[:, 0], full[:, t], atol=1e-10), t
    # A two-token chunk against memory with sep 0 is causal inside the chunk.
    _, mems = m(ids[:, :5], pos[..., :5], torch.tensor([5]), return_memory=True)
    o, _ = m(ids[:, 5:7], pos[..., 5:7], torch.tensor([0]), mems=mems)
    assert torch.allclose(o, full[:, 5:7], atol=1e-10)


def test_attention_scale_is_the_same_softmax():
    a = tiny()
    b = tiny(attention_scale=4.0)
    b.load_state_dict(a.state_dict())
    ids = torch.randint(0, 40, (2, 6))
    pos = torch.stack([torch.arange(6).expand(2, 6), torch.zeros(2, 6, dtype=torch.long)], 1)
    x, _ = a(ids, pos, torch.tensor([2, 4]))
    y, _ = b(ids, pos, torch.tensor([2, 4]))
    assert torch.allclose(x, y, atol=1e-10)


def test_gelu_forms():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    exact = 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    assert torch.allclose(gelu(x, "erf"), exact)
    assert (gelu(x, "tanh") - exact).abs().max() < 1e-3  # the approximation, close but not equal
    assert (gelu(x, "tanh") - exact).abs().max() > 1e-6


def test_loss_is_masked_mean():
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    tgt = torch.randint(0, 5, (2, 3))
    lm = torch.tensor([[0, 1, 1], [1, 0, 0]])
    ce = torch.nn.functional.cross_entropy(logits.view(-1, 5), tgt.view(-1), reduction="none").view(2, 3)
    assert torch.allclose(glm_loss(logits, tgt, lm), (ce * lm).sum() / 3)


def test_state_dict_keys_are_official():
    m = tiny()
    keys = set(m.state_dict())
    assert "word_embeddings.weight" in keys and "transformer.block_position_embeddings.weight" in keys
    assert "transformer.layers.1.attention.query_key_value.weight" in keys
    assert m.state_dict()["transformer.position_embeddings.weight"].shape == (17, 16)
    assert len(keys) == 3 + 12 * 2 + 2


def test_init_follows_spec():
    torch.manual_seed(0)
    cfg = GLMConfig(num_layers=8, hidden_size=256, num_attention_heads=4, vocab_size=512, max_sequence_length=64)
    sd = GLMModel(cfg).state_dict()
    assert abs(sd["word_embeddings.weight"].std().item() - 0.02) < 1e-3
    assert abs(sd["transformer.layers.0.attention.dense.weight"].std().item() - 0.02 / 4) < 3e-4
    assert abs(sd["transformer.layers.0.mlp.dense_4h_to_h.weight"].std().item() - 0.02 / 4) < 3e-4
    assert (sd["transformer.layers.0.attention.query_key_value.bias"] == 0).all()
    assert (sd["transformer.layers.0.input_layernorm.weight"] == 1).all()


if __name__ == "__main__":
    torch.set_num_threads(2)
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
    for t in tests:
        t()
        print("ok", t.__name__)
    print(f"{len(tests)} passed")
