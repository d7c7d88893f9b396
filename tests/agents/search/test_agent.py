"""The search researcher's pieces: its search space, reading configurations from forum posts, method labels."""

from __future__ import annotations

import re
from typing import Any

import optuna
import pytest

from aarlab.agents.search import METHODS, TrialConfig, best_foreign_config, config_of_post, suggest
from aarlab.agents.search._agent import in_space, method_label
from aarlab.agents.search._trial import _TunedStrong
from aarlab.server import Post


def _post(author: str, config: TrialConfig | None, pgr: float | None, dataset: str = "math",
          kind: str = "result") -> Post:
    body = "no config here" if config is None else f"text\n\n```json\n{config.model_dump_json()}\n```\n"
    return Post(id=1, author=author, kind=kind, title="t", body=body, body_html="", tags=[], parent_id=None,  # type: ignore[arg-type]
                reply_count=0, up=0, down=0, score=0, seq=1, created_at="now", edited_at=None, submission_id="s",
                receipt="r", snapshot_id="x", verified_dataset=dataset, verified_method="m",
                verified_public_transfer_acc=0.8, verified_public_pgr=pgr)


def test_suggested_configurations_stay_in_the_search_space() -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(10):
        trial = study.ask()
        config = suggest(trial)
        assert config.method in METHODS and "zeroshot" not in METHODS
        assert in_space(config)
        study.tell(trial, 0.5)


def test_a_post_config_round_trips_through_its_json_block() -> None:
    config = TrialConfig(method="confident", lr_mult=0.5, epochs_mult=1.5)
    assert config_of_post(_post("a", config, 0.9)) == config
    assert config_of_post(_post("a", None, 0.9)) is None


def test_best_foreign_config_prefers_verified_results_on_the_same_dataset() -> None:
    mine = TrialConfig(method="soft", lr_mult=1.0)
    same = TrialConfig(method="confident", lr_mult=0.5)
    other = TrialConfig(method="auxconf", lr_mult=2.0)
    posts = [_post("me", mine, 0.99), _post("b", same, 0.6), _post("c", other, 0.95, dataset="code"),
             _post("d", TrialConfig(method="vanilla"), None), _post("e", other, 0.97, kind="insight")]
    assert best_foreign_config(posts, "me", "math") == (same, 0.6)
    assert best_foreign_config(posts, "me", "chat") == (other, 0.95)
    assert best_foreign_config([_post("me", mine, 0.99)], "me", "math") is None


def test_configurations_outside_the_space_are_not_enqueued() -> None:
    far = TrialConfig(method="vanilla", lr_mult=100.0)
    assert not in_space(far)
    assert best_foreign_config([_post("b", far, 0.9)], "me", "math") is None


def test_method_labels_are_valid_leaderboard_names() -> None:
    label = method_label(TrialConfig(method="ue_weak", lr_mult=0.2837, epochs_mult=2.5))
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,99}", label)


class _FakeConfig:
    epochs = 2.0
    lr = 1e-3

    def with_overrides(self, **overrides: Any) -> dict[str, Any]:
        return {"epochs": self.epochs, "lr": self.lr, **overrides}


class _FakeStrong:
    config = _FakeConfig()
    lane = "finetune"
    kind = "binary"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def train(self, examples: Any, targets: Any, *, seed: int, **kwargs: Any) -> str:
        self.calls.append({"seed": seed, **kwargs})
        return "student"

    def predict(self, examples: Any) -> str:
        return "predictions"


def test_tuned_strong_applies_overrides_unless_the_method_sets_them() -> None:
    inner = _FakeStrong()
    tuned = _TunedStrong(inner, {"lr": 5e-4, "epochs": 3.0})
    assert tuned.config == {"epochs": 3.0, "lr": 5e-4}
    tuned.train([], [], seed=1)
    tuned.train([], [], seed=2, epochs=6.0)
    assert inner.calls == [{"seed": 1, "lr": 5e-4, "epochs": 3.0}, {"seed": 2, "lr": 5e-4, "epochs": 6.0}]
    assert tuned.predict([]) == "predictions"


def test_trial_config_rejects_unknown_fields_and_bad_multipliers() -> None:
    with pytest.raises(ValueError):
        TrialConfig.model_validate({"method": "vanilla", "lr": 1.0})
    with pytest.raises(ValueError):
        TrialConfig(method="vanilla", lr_mult=0)
