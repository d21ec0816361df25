"""Bi-Real Net's training rule: magnitude-aware weight sign and ApproxSign activations."""

import torch

import methods
from methods.quantizers import ApproxSign, MagnitudeAwareSign
from tests.tiny import batch, tiny_arch, tiny_net

W = torch.tensor([[0.5, -0.25, 1.5, -2.0], [0.1, 0.0, -0.3, 0.2], [-0.9, 0.9, 3.0, -1.0]])


def test_weight_forward_is_mean_magnitude_times_sign_per_filter() -> None:
    w = W.view(3, 1, 2, 2)  # a conv kernel: 3 filters of 4 entries
    expected = torch.tensor([[1.0625] * 4, [0.15] * 4, [1.45] * 4]) * torch.tensor(
        [[1, -1, 1, -1], [1, 1, -1, 1], [-1, 1, 1, -1]], dtype=torch.float32
    )
    torch.testing.assert_close(MagnitudeAwareSign()(w), expected.view(3, 1, 2, 2))


def test_weight_backward_is_scaled_and_clipped() -> None:
    w = W.clone().requires_grad_(True)
    grad = torch.arange(12, dtype=torch.float32).view(3, 4) - 5.0
    MagnitudeAwareSign()(w).backward(grad)
    scale = W.abs().mean(dim=1, keepdim=True)  # the filter's mean magnitude, held constant
    torch.testing.assert_close(w.grad, grad * scale * (W.abs() < 1).float())
    assert w.grad[2, 3] == 0.0  # |w| = 1 is outside the open interval


def test_activation_backward_is_approx_sign() -> None:
    a = torch.tensor([-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.75, 1.0, 2.0], requires_grad=True)
    y = ApproxSign()(a)
    assert set(y.tolist()) <= {-1.0, 1.0}
    y.sum().backward()
    torch.testing.assert_close(a.grad, (2 - 2 * a.detach().abs()).clamp(min=0))


def test_method_uses_both_quantizers_and_leaves_latent_weights_unclipped() -> None:
    torch.manual_seed(0)
    method = methods.build_method("bireal", {}, "bnn", 0)
    method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    assert all(isinstance(layer.weight_quantizer, MagnitudeAwareSign) for layer in method.layers)
    assert all(isinstance(layer.input_quantizer, ApproxSign) for layer in method.layers)
    for layer in method.layers:
        layer.weight.data.mul_(20)
    before = [layer.weight.detach().clone() for layer in method.layers]
    method.after_step(0)
    assert all(torch.equal(b, layer.weight) for b, layer in zip(before, method.layers, strict=True))


def test_bwn_binarizes_weights_only() -> None:
    method = methods.build_method("bireal", {}, "bwn", 0)
    method.convert(tiny_net(), batch()[0][:2], tiny_arch())
    assert all(layer.binarizes_weight and not layer.binarizes_input for layer in method.layers)
