"""The default encoder's recipe (benchmarks/train_default.py) agrees with the shipped model card."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.train_default import OPTIONAL_ARCH_KEYS, RECIPES, _recipe_command


def test_the_shipped_card_is_what_the_default_recipe_trains():
    from featkit.encoders.keras_encoder import default_model_card

    card = default_model_card()
    recipe = RECIPES["v4"]
    assert card["name"] == recipe["name"]
    assert card["training"]["command"] == "python benchmarks/train_default.py"  # no option: the defaults
    arch = card["architecture"]
    for key in ("latent_dim", "latent_grid", "widths"):
        assert arch[key] == recipe[key], key
    for key in OPTIONAL_ARCH_KEYS:  # the card names an optional setting only where the recipe sets it
        assert arch.get(key, 0) == (recipe.get(key) or 0), key
    assert card["training"]["epochs"] == card["training"]["epochs_done"] == recipe["epochs"]
    assert card["pilot_capacity"]["candidate"]["adopted"] is True  # the ablation that chose v4 ships with it


def test_v4_is_v3_with_pooled_global_inputs():
    differs = {key for key in RECIPES["v4"] if RECIPES["v4"][key] != RECIPES["v3"][key]}
    assert differs == {"name", "global_pool"}
    assert {name: recipe["global_pool"] for name, recipe in RECIPES.items()} == {"v4": True, "v3": False, "v2": False}


def test_the_cards_command_leaves_out_where_files_go():
    argv = ["--out", "/tmp/o", "--work=/tmp/w", "--seed", "3", "--cache", "/c", "--global-pool"]
    assert _recipe_command(argv) == "python benchmarks/train_default.py --seed 3 --global-pool"
    assert _recipe_command([]) == "python benchmarks/train_default.py"


def test_a_checkpoint_of_other_settings_is_refused_with_the_callers_own_fix(tmp_path):
    import pytest

    from featkit.exceptions import StoreMismatchError
    from featkit.training.checkpoints import TRAIN_FIX, check_same

    ckpt = tmp_path / "checkpoint.npz"
    with pytest.raises(StoreMismatchError, match="epochs: checkpoint 10, now 12") as info:
        check_same({"epochs": 10}, {"epochs": 12}, "settings", ckpt)
    assert str(info.value).endswith(TRAIN_FIX)  # featkit train's options by default
    fix = "Pass another --work folder."
    with pytest.raises(StoreMismatchError) as info:
        check_same({"epochs": 10, "beta": 1.0}, {"epochs": 10, "beta": 2.0}, "settings", ckpt, fix)
    assert str(info.value).endswith(fix)
    assert "--overwrite" not in str(info.value)
    check_same({"epochs": 10}, {"epochs": 10}, "settings", ckpt, fix)  # the same settings resume
