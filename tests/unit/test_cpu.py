"""CPU inference tweaks keep a network's outputs and only change how it runs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _conv_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
    )
    for module in net.modules():  # non-trivial running statistics, or folding is a no-op
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return net.eval()


def test_folding_batchnorm_into_convolutions_keeps_the_outputs() -> None:
    from plate_ocr.cpu import optimise_for_cpu

    net = _conv_net()
    x = torch.randn(2, 1, 16, 40)
    with torch.inference_mode():
        before = net(x)
        optimise_for_cpu(net)
        after = net(x.contiguous(memory_format=torch.channels_last))

    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert torch.allclose(before, after, atol=1e-5)


def test_bf16_forward_returns_float32_close_to_the_float32_outputs() -> None:
    from plate_ocr.cpu import Bf16Forward

    net = _conv_net()
    wrapped = Bf16Forward(net)
    x = torch.randn(1, 1, 16, 40)
    with torch.inference_mode():
        exact, fast = net(x), wrapped(x)

    assert fast.dtype == torch.float32
    assert torch.allclose(exact, fast, atol=0.1)
    assert wrapped.training is False  # attributes reach the wrapped module


def test_bf16_support_is_a_plain_answer() -> None:
    from plate_ocr.cpu import bf16_supported

    assert bf16_supported() in (True, False)
