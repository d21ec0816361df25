"""Closed-form forward and backward of every binarization primitive."""

import torch

from methods.primitives import clip, masked_sign, sign, ste_sign

X = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])


def test_sign_of_zero_is_plus_one() -> None:
    assert sign(X).tolist() == [-1, -1, -1, 1, 1, 1, 1]
    assert sign(torch.zeros(3)).tolist() == [1, 1, 1]


def test_ste_sign_forward_and_clipped_gradient() -> None:
    x = X.clone().requires_grad_()
    y = ste_sign(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    y.backward(torch.arange(1.0, 8.0))
    # gradient passes only where |x| <= 1 (boundaries included)
    assert x.grad.tolist() == [0, 2, 3, 4, 5, 6, 0]


def test_clip_forward_and_gradient() -> None:
    x = X.clone().requires_grad_()
    y = clip(x)
    assert y.tolist() == [-1, -1, -0.5, 0, 0.5, 1, 1]
    y.sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]


MASK = torch.tensor([True, False, True, True, False, False, True])


def test_masked_sign_forward_mixes_sign_and_clip() -> None:
    y = masked_sign(X, MASK)
    # frozen entries: sign; others: clip(x, -1, 1)
    assert y.tolist() == [-1, -1, -1, 1, 0.5, 1, 1]


def test_masked_sign_ste_free_passes_no_gradient_through_frozen_entries() -> None:
    x = X.clone().requires_grad_()
    masked_sign(x, MASK, frozen_grad=False).backward(torch.ones(7))
    # (1 - M) * 1[|x| <= 1]
    assert x.grad.tolist() == [0, 1, 0, 0, 1, 1, 0]


def test_masked_sign_frozen_grad_ste_passes_clipped_gradient_everywhere() -> None:
    x = X.clone().requires_grad_()
    masked_sign(x, MASK, frozen_grad=True).backward(torch.ones(7))
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_masked_sign_broadcasts_a_mask_and_matches_gradcheck_shape() -> None:
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(4, 5) < 0.5
    y = masked_sign(x, mask)
    y.sum().backward()
    expected = ((~mask) & (x.abs() <= 1)).double()
    assert torch.equal(x.grad, expected)
