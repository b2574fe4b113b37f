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


def test_bf16_precision_gives_outputs_close_to_float32_and_float32_stays_exact() -> None:
    from plate_ocr.cpu import precision

    net = _conv_net().eval()
    x = torch.randn(1, 1, 16, 40)
    with torch.inference_mode():
        exact = net(x)
        with precision(False):
            same = net(x)
        with precision(True):
            fast = net(x).float()

    assert torch.equal(exact, same)
    assert torch.allclose(exact, fast, atol=0.1)


def test_bf16_support_is_a_plain_answer() -> None:
    from plate_ocr.cpu import bf16_supported

    assert bf16_supported() in (True, False)
