import json

import pytest

from attire.config import PRESETS, TrainConfig, config_from_dict, resolve_config
from attire.errors import ConfigError


def test_tutorial_preset_is_the_tutorials_recipe():
    config = PRESETS["tutorial"]
    assert (config.model, config.optimizer, config.lr, config.batch_size, config.epochs) == \
        ("mlp", "adam", 1e-3, 32, 20)
    assert config.val_size == 0 and not config.augment and config.label_smoothing == 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_resolves_and_round_trips_through_json(name):
    config = resolve_config(name)
    assert config.preset == name and config.description
    assert config_from_dict(json.loads(config.to_json())) == config


def test_flags_override_the_preset():
    config = resolve_config("fast", epochs=1, lr=0.5)
    assert (config.epochs, config.lr, config.model) == (1, 0.5, PRESETS["fast"].model)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="tutorial"):
        resolve_config("fastest")


def test_unknown_keys_are_errors_that_list_the_valid_keys():
    with pytest.raises(ConfigError, match="learning_rate.*valid keys.*lr"):
        resolve_config("default", learning_rate=0.1)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"optimizer": "rmsprop"}, {"label_smoothing": 1.5},
                                 {"device": "tpu"}, {"val_size": -1}])
def test_invalid_values_are_errors(bad):
    with pytest.raises(ConfigError):
        config_from_dict({**TrainConfig().to_dict(), **bad})
