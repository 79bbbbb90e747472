
import keras_tuner
import pytest

from kfashion import config, models, pretext, sweep


@pytest.mark.parametrize("name", config.PRETEXTS)
def test_each_pretext_keeps_the_networks_as_sub_models_the_sweep_saves(name):
    encoder, decoder = models.build_networks(16, 0.0)
    model = pretext.build(name, encoder, decoder)
    assert model.get_layer("encoder") is encoder
    assert (model.get_layer("decoder") is decoder) == pretext.load(name).DECODER
    assert model.output_shape == (None, *config.IMAGE_SHAPE)


def test_an_unknown_pretext_is_named_with_the_choices():
    with pytest.raises(ValueError, match="choose from reconstruction"):
        pretext.load("contrastive")


def test_the_hypermodel_compiles_the_pretexts_loss():
    hypermodel = sweep.AutoencoderHyperModel(pretext_name="reconstruction")
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.name == "autoencoder" and model.loss == "mse"
