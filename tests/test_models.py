import pytest
import torch
from torch.nn import functional as F

import attire
from attire.errors import ModelError
from attire.models import count_parameters, create_model, list_models


def test_registry_lists_the_three_families():
    assert {"mlp", "cnn", "resnet"} <= set(list_models())
    assert set(attire.list_models()) == set(list_models())


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ModelError) as error:
        create_model("vgg99")
    for name in list_models():
        assert name in str(error.value)


def test_the_tutorial_network_is_exactly_flatten_dense128_dense10():
    model = create_model("mlp")
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 128), (128, 10)]
    assert count_parameters(model) == 784 * 128 + 128 + 128 * 10 + 10


@pytest.mark.parametrize("name", list_models())
def test_model_maps_raw_pixels_to_finite_logits(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    images = torch.randint(0, 256, (3, 1, 28, 28)).float()
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list_models())
def test_one_training_step_lowers_the_loss(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    images = torch.randint(0, 256, (16, 1, 28, 28)).float()
    labels = torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        return F.cross_entropy(model(images), labels)

    before = loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after.item() < before.item()


def test_flip_averaging_makes_predictions_mirror_invariant():
    torch.manual_seed(0)
    model = create_model("cnn").eval()
    images = torch.randint(0, 256, (4, 1, 28, 28)).float()
    with torch.no_grad():
        assert torch.allclose(model(images), model(images.flip(-1)), atol=1e-5)
