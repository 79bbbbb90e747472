import pytest
from helpers import docs_module

from kfashion.core import models

bench = docs_module("bench")


def test_flops_are_counted_from_the_layers():
    encoder = models.build_encoder(64, 0.2)
    # conv1 26*26*16*9*1, conv2 11*11*32*9*16, dense 800*64 multiply-adds
    forward = 2 * (26 * 26 * 16 * 9 + 11 * 11 * 32 * 9 * 16 + 800 * 64)
    assert bench.training_flops_per_image(encoder) == 3 * forward
    autoencoder = models.build_autoencoder(64, 0.2)
    # decoder: dense 64*800, deconv1 5*5*32*16*16, deconv2 13*13*16*9*1
    decoder = 2 * (64 * 800 + 5 * 5 * 32 * 16 * 16 + 13 * 13 * 16 * 9)
    assert bench.training_flops_per_image(autoencoder) == 3 * (forward + decoder)


@pytest.mark.parametrize("network", ["autoencoder", "classifier"])
def test_the_pytorch_loop_is_the_same_network(network):
    torch = pytest.importorskip("torch")
    model = bench.torch_network(network)
    keras_model = (
        models.build_autoencoder(64, 0.2)
        if network == "autoencoder"
        else models.build_classifier(models.build_encoder(64, 0.1))
    )
    assert sum(p.numel() for p in model.parameters()) == keras_model.count_params()
    shape = (2, 1, 28, 28) if network == "autoencoder" else (2, 10)
    assert tuple(model(torch.zeros(2, 1, 28, 28)).shape) == shape
