import pytest
from omegaconf import OmegaConf

from verl_ccrl import CCRLConfig


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"alpha": -0.1}, ValueError, "ccrl.alpha=-0.1"),
        ({"beta": "high"}, TypeError, "ccrl.beta='high'"),
        ({"alpha": True}, TypeError, "ccrl.alpha=True"),
        ({"alpha": float("nan")}, ValueError, "not finite"),
        ({"tau": 1.5}, ValueError, "ccrl.tau=1.5"),
        ({"confidence_estimator": "softmax"}, ValueError, "confidence_estimator"),
        ({"aggregation": "median"}, ValueError, "aggregation"),
        ({"confidence_estimator": "normalized_entropy"}, ValueError, "vocab_size"),
        ({"vocab_size": 1}, ValueError, "vocab_size"),
        ({"verification_sources": ["arithmetic", "oracle"]}, ValueError, "verification_sources"),
        ({"verification_sources": "arithmetic"}, TypeError, "must be a list"),
        ({"verification_sources": ["reference", "reference"]}, ValueError, "repeats"),
        ({"restatement_policy": "punish"}, ValueError, "restatement_policy"),
        ({"word_numbers": "yes"}, TypeError, "word_numbers"),
        ({"correct_reward": 0.0, "wrong_reward": 1.0}, ValueError, "correct_reward"),
        ({"overconfidence_thresholds": [0.5, 1.2]}, ValueError, "overconfidence_thresholds"),
    ],
)
def test_bad_values_fail_at_construction_naming_the_field(kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        CCRLConfig(**kwargs)


def test_integers_are_accepted_for_float_fields():
    assert CCRLConfig(alpha=1, beta=2).beta == 2.0


def test_from_mapping_accepts_omegaconf_lists():
    node = OmegaConf.create({"alpha": 0.1, "verification_sources": ["reference"], "overconfidence_thresholds": [0.6]})
    config = CCRLConfig.from_mapping(node)
    assert config.verification_sources == ("reference",) and config.overconfidence_thresholds == (0.6,)


def test_unknown_key_is_rejected_with_a_suggestion():
    with pytest.raises(ValueError, match="did you mean 'alpha'"):
        CCRLConfig.from_mapping({"alpah": 0.1})


def test_every_field_has_help_text():
    assert all(text for text in CCRLConfig.help().values())
