"""SSL speaker embeddings: the selection logic, losses, trials and EER, the stage plan, and a
small real training run on demo speech (Stage I + rounds, co_meta with two audio views)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("speechbrain")

from sauti.config.resolve import resolve  # noqa: E402
from sauti.config.schema import ConfigError  # noqa: E402
from sauti.core import audio  # noqa: E402
from sauti.core.errors import SautiError  # noqa: E402
from sauti.ml.deep.ssl.co_meta import (  # noqa: E402
    disagreement,
    keep_share,
    maml_step,
    small_loss_select,
)
from sauti.ml.deep.ssl.evaluate import build_trials, eer, verification  # noqa: E402
from sauti.ml.deep.ssl.losses import AAMSoftmax, contrastive_loss  # noqa: E402
from sauti.ml.deep.ssl.rounds import cluster_quality  # noqa: E402
from sauti.ml.deep.ssl.segments import add_noise, segment_pair  # noqa: E402
from sauti.stages.ssl import choose_test_speakers  # noqa: E402
from sauti.workflow.plan import plan_experiment  # noqa: E402


@pytest.fixture(autouse=True)
def _few_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine, 2 threads are many times slower
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- co-meta selection


def test_keep_share_schedule():
    """λ(e) = 1 − min(e/E_k·τ, τ): 1 at the start, linear, then flat at 1 − τ from E_k on."""
    assert keep_share(0, 5, 0.2) == 1.0
    assert keep_share(1, 5, 0.2) == pytest.approx(0.96)
    assert keep_share(4, 5, 0.2) == pytest.approx(0.84)
    assert keep_share(5, 5, 0.2) == pytest.approx(0.8)
    assert keep_share(50, 5, 0.2) == pytest.approx(0.8)
    assert keep_share(3, 10, 0.5) == pytest.approx(0.85)


def test_small_loss_select_keeps_the_lowest_share():
    losses = np.array([0.9, 0.1, 0.5, 0.3, 2.0, 0.05, 0.7, 1.1, 0.2, 0.4])
    picked = small_loss_select(losses, 0.3)
    assert sorted(picked.tolist()) == [1, 5, 8]  # the three smallest losses
    assert set(small_loss_select(losses, 0.5)) == {1, 3, 5, 8, 9}
    assert len(small_loss_select(losses, 1.0)) == 10
    assert len(small_loss_select(losses, 0.01)) == 2  # never fewer than 2 (batch norm)
    assert len(small_loss_select(losses[:1], 0.5)) == 1


def test_disagreement_picks_differing_predictions():
    a = np.array([0, 1, 2, 3, 4, 5])
    b = np.array([0, 2, 2, 1, 4, 0])
    assert disagreement(a, b).tolist() == [1, 3, 5]
    assert disagreement(a, a).tolist() == []


def test_maml_step_is_first_order_maml():
    """θ_new = θ − β ∇L_query(θ − α ∇L_support(θ)) for a linear model with plain SGD."""

    class Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))

        def forward(self, x, y):
            return (x @ self.w - y) ** 2

    model = Linear()
    xs, ys = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0.0, 0.0])
    xq, yq = torch.tensor([[1.0, 1.0]]), torch.tensor([1.0])
    alpha, beta = 0.1, 0.5
    w = model.w.detach().clone()
    grad_s = (2 * (xs @ w - ys)[:, None] * xs).mean(0)
    fast = w - alpha * grad_s
    grad_q = (2 * (xq @ fast - yq)[:, None] * xq).mean(0)
    expected = w - beta * grad_q
    optimizer = torch.optim.SGD(model.parameters(), lr=beta)
    support, query = maml_step(model, (xs, ys), (xq, yq), optimizer, alpha)
    assert torch.allclose(model.w.detach(), expected, atol=1e-6)
    assert support == pytest.approx(float(((xs @ w - ys) ** 2).mean()))
    assert query == pytest.approx(float(((xq @ fast - yq) ** 2).mean()))


# --------------------------------------------------------------------------- losses, segments


def test_contrastive_loss_rewards_matching_pairs():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    matched = contrastive_loss(z, z + 0.01 * torch.randn(8, 16), temperature=0.1)
    shuffled = contrastive_loss(z, z[torch.randperm(8)], temperature=0.1)
    assert matched < 0.1 < shuffled
    # the paper's form (no temperature) is bounded below by the softmax over cosines in [-1, 1]
    plain = contrastive_loss(z, z)
    assert plain > np.log(1 + 7 * np.exp(-2)) - 1e-4


def test_aam_softmax_margin_makes_the_loss_harder():
    torch.manual_seed(0)
    emb, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    head = AAMSoftmax(4, 3, margin=0.2, scale=32)
    plain = AAMSoftmax(4, 3, margin=0.0, scale=32)
    plain.weight.data = head.weight.data.clone()
    assert head(emb, labels).shape == (6,)
    assert (head(emb, labels) > plain(emb, labels)).all()
    assert torch.allclose(plain(emb, labels), torch.nn.functional.cross_entropy(plain.logits(emb), labels, reduction="none"), atol=1e-4)  # fmt: skip


def test_segment_pair_does_not_overlap_on_long_clips(demo_dir):
    signal = audio.read(demo_dir / "wav" / "allison_digit0.wav")
    rng = np.random.default_rng(0)
    length = len(signal) // 3
    ramp = np.arange(len(signal), dtype=np.float32)  # a sample's value is its position
    for _ in range(20):
        a, b = segment_pair(ramp, length, rng)
        assert len(a) == len(b) == length
        assert abs(a[0] - b[0]) >= length  # the two segments do not overlap
    short_a, short_b = segment_pair(signal[:100], 400, rng)  # shorter than a segment: tiled
    assert len(short_a) == len(short_b) == 400
    clean = signal[:length]
    noisy = add_noise(np.stack([clean, clean]), [10, 10], rng)
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy[0] - clean) ** 2))
    assert 8.5 < snr < 11.5


# --------------------------------------------------------------------------- evaluation


def test_trials_and_eer():
    speakers = ["a"] * 4 + ["b"] * 3 + ["c"] * 2
    trials = build_trials(speakers, per_speaker=5, seed=1)
    assert trials["target"].sum() == 6 + 3 + 1  # every same-speaker pair
    assert (trials["target"] == 0).sum() == 15
    spk = np.array(speakers)
    assert (spk[trials.a] == spk[trials.b]).tolist() == (trials.target == 1).tolist()
    assert trials.equals(build_trials(speakers, per_speaker=5, seed=1))  # seeded
    assert eer([0.9, 0.8, 0.7, 0.1, 0.2, 0.3], [1, 1, 1, 0, 0, 0]) == 0.0
    assert eer([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 1.0
    assert eer([0.9, 0.3, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.5)
    one_hot = np.eye(3)[[0, 0, 0, 0, 1, 1, 1, 2, 2]]
    assert verification(one_hot, trials) == 0.0
    with pytest.raises(SautiError, match="no verification trials"):
        build_trials(["a", "b"], 5, 0)


def test_cluster_quality_against_true_speakers():
    pseudo = np.array([0, 0, 1, 1, 1, 2])
    truth = ["x", "x", "y", "y", "z", "z"]
    quality = cluster_quality(pseudo, truth)
    assert quality["purity"] == pytest.approx(5 / 6)
    assert 0 < quality["nmi"] < 1
    assert cluster_quality(np.array([0, 0, 1]), ["a", "a", "b"])["nmi"] == pytest.approx(1.0)
    assert cluster_quality(pseudo, None) == {}


def test_held_out_speakers_are_seeded_and_need_two_utterances(demo_table):
    speakers = demo_table["speaker"]
    chosen = choose_test_speakers(speakers, 12, 42)
    assert len(chosen) == 12 and chosen == choose_test_speakers(speakers, 12, 42)
    assert chosen != choose_test_speakers(speakers, 12, 43)
    counts = speakers.value_counts()
    assert all(counts[s] >= 2 for s in chosen)
    assert len(choose_test_speakers(speakers, 0.2, 42)) == round(0.2 * counts.size)
    with pytest.raises(SautiError, match="test_speakers"):
        choose_test_speakers(speakers, 500, 42)
    with pytest.raises(SautiError, match="speaker column"):
        choose_test_speakers(pd.Series([None, None]), 1, 0)


# --------------------------------------------------------------------------- config and plan


def _cfg(demo_dir, **ssl):
    return resolve(
        {
            "EXP": {"name": "ssl"},
            "DATA": {
                "databases": ["demo"],
                "demo": {"path": str(demo_dir / "demo.csv")},
                "target": "gender",
            },
            "SSL": {"enabled": True, **ssl},
        }
    )


def test_each_round_is_keyed_by_the_previous_one(demo_dir):
    two = plan_experiment(_cfg(demo_dir, rounds=2)).ssl
    three = plan_experiment(_cfg(demo_dir, rounds=3)).ssl
    assert two.pretrain.key == three.pretrain.key
    assert [r.key for r in two.rounds] == [r.key for r in three.rounds[:2]]
    assert three.rounds[2].upstream == (three.rounds[1],)
    assert two.evaluate.key != three.evaluate.key
    # a round setting changes every round but not Stage I; an encoder setting changes all
    margin = plan_experiment(_cfg(demo_dir, margin=0.3)).ssl
    assert margin.pretrain.key == two.pretrain.key
    assert not {r.key for r in margin.rounds} & {r.key for r in two.rounds}
    wider = plan_experiment(_cfg(demo_dir, channels=[8, 8, 8, 8, 24])).ssl
    assert wider.pretrain.key != two.pretrain.key
    # the target and the model do not touch SSL
    other = _cfg(demo_dir)
    other["DATA"]["target"], other["MODEL"]["type"] = "language", "xgb"
    assert plan_experiment(other).ssl.evaluate.key == two.evaluate.key
    assert plan_experiment(_cfg(demo_dir, enabled=False)).ssl is None


def test_ssl_config_errors_are_one_line(demo_dir):
    with pytest.raises(ConfigError, match=r"\[SSL\] unknown key 'round'.*rounds"):
        _cfg(demo_dir, round=3)
    with pytest.raises(ConfigError, match="SSL.device"):
        _cfg(demo_dir, device="tpu")
    with pytest.raises(ConfigError, match="channels"):
        _cfg(demo_dir, channels=[8, 8])


# --------------------------------------------------------------------------- real training


SMALL = dict(
    segment_duration=0.3, channels=[16, 16, 16, 16, 48], attention_channels=8,
    embedding_dim=32, batch_size=16, epochs=2, round_epochs=2, clusters=6,
    temperature=0.1, progress=False,
)  # fmt: skip


def _signals(demo_dir, demo_table, speakers, per_speaker):
    rows = demo_table[demo_table["speaker"].isin(speakers)].groupby("speaker").head(per_speaker)
    return [audio.read(demo_dir / f) for f in rows["file"]], rows["speaker"].tolist()


def test_stage_one_and_co_meta_round_train_on_real_speech(demo_dir, demo_table, tmp_path):
    """Stage I lowers its loss; a co_meta round with two audio views (log-mel, MFCC) runs,
    selects, and returns two trained encoders that embed utterances."""
    from sauti.ml.deep.ssl.encoder import embed, load_encoders, save_encoders
    from sauti.ml.deep.ssl.pretrain import pretrain
    from sauti.ml.deep.ssl.rounds import embed_views, pseudo_labels, train_round
    from sauti.ml.deep.ssl.settings import SSLSettings

    speakers = ["allison", "carlo", "gcin_f", "espeak_en-us_m1", "espeak_de_f2", "june"]
    signals, truth = _signals(demo_dir, demo_table, speakers, 5)
    settings = SSLSettings(**{**SMALL, "epochs": 3}, co_meta=True, view2="mfcc", e_k=1, tau=0.5)
    encoders, history = pretrain(signals, settings)
    assert [e.spec.view for e in encoders] == ["fbank", "mfcc"]
    for view in ("fbank", "mfcc"):
        losses = history[history["view"] == view]["loss"].tolist()
        assert losses[-1] < losses[0]
    views = embed_views(encoders, signals, settings)
    labels = pseudo_labels(views, settings)
    assert labels.shape == (30,) and labels.max() == 5
    before = embed(encoders[0], signals[:3])
    trained, rounds = train_round(encoders, signals, views, labels, settings, 1)
    assert len(trained) == 2
    assert rounds["keep_share"].tolist() == [1.0, 0.5]
    assert ((rounds["disagreement"] >= 0) & (rounds["disagreement"] <= 1)).all()
    save_encoders(tmp_path / "encoders.pt", trained)
    reloaded = load_encoders(tmp_path / "encoders.pt")
    after = embed(reloaded[0], signals[:3])
    assert np.allclose(np.linalg.norm(after, axis=1), 1, atol=1e-5)
    assert np.allclose(after, embed(trained[0], signals[:3]), atol=1e-5)
    assert not np.allclose(before, after, atol=1e-3)


def test_round_heads_start_at_the_cluster_centroids(demo_dir, demo_table):
    """A round's AAM head starts where k-means put the pseudo speakers: before any training
    it already assigns the utterances to their clusters (a random head would not)."""
    import torch

    from sauti.ml.deep.ssl.batches import make_heads
    from sauti.ml.deep.ssl.encoder import embed
    from sauti.ml.deep.ssl.losses import AAMSoftmax
    from sauti.ml.deep.ssl.pretrain import untrained_encoder
    from sauti.ml.deep.ssl.rounds import embed_views, pseudo_labels
    from sauti.ml.deep.ssl.settings import SSLSettings

    speakers = ["allison", "carlo", "gcin_f", "espeak_en-us_m1", "espeak_de_f2", "june"]
    signals, _ = _signals(demo_dir, demo_table, speakers, 5)
    settings = SSLSettings(**SMALL)
    encoders = [untrained_encoder(settings)]
    views = embed_views(encoders, signals, settings)
    labels = pseudo_labels(views, settings)
    (head,) = make_heads(views, labels, settings)
    emb = torch.as_tensor(embed(encoders[0], signals))
    with torch.no_grad():
        agree = (head.logits(emb).argmax(1).numpy() == labels).mean()
        random = AAMSoftmax(emb.shape[1], int(labels.max()) + 1)
        chance = (random.logits(emb).argmax(1).numpy() == labels).mean()
    assert agree >= 0.9 > chance + 0.3, (agree, chance)
