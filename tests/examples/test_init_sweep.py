"""Smoke test of examples/init_sweep.py: even ``--quick`` (2 seeds, 150 steps, 5 schemes)
reproduces the initialisation lessons in numbers, and saves the figures."""

from examples import init_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_run_reproduces_the_initialisation_lessons(tmp_path, capsys):
    result = init_sweep.main(["--quick", "--out", str(tmp_path)])
    acc, init = result["accuracy"], result["init"]
    assert list(acc) == ["sigmoid", "tanh", "relu"]
    assert list(acc["relu"]) == ["zeros", "small_normal", "standard_normal", "xavier_normal",
                                 "he_normal"]
    for act in acc:
        # Zero init: the hidden units stay exactly identical, and the network at chance.
        assert acc[act]["zeros"]["q75"] < 0.15
        assert result["unit_spread"][act]["zeros"] == 0.0
        assert result["unit_spread"][act]["he_normal"] > 0.1
        for cell in acc[act].values():
            assert cell["q25"] <= cell["median"] <= cell["q75"]
    # Scaled schemes train tanh and ReLU far above chance (quick run: 0.96-0.98); N(0, 1)
    # makes ReLU explode (0.11) and N(0, 0.01) leaves the deep network at chance.
    for act, scheme in (("tanh", "xavier_normal"), ("relu", "xavier_normal"),
                        ("relu", "he_normal"), ("tanh", "he_normal")):
        assert acc[act][scheme]["q25"] > 0.9
    assert acc["relu"]["standard_normal"]["median"] < 0.2
    assert acc["relu"]["small_normal"]["median"] < 0.15
    # Sigmoid at initialisation: N(0, 1) saturates (half the outputs within 1% of 0 or 1),
    # N(0, 0.01) collapses onto 0.5 (std 0.014), Xavier spreads them (std 0.13, none
    # saturated); the gradient vanishes toward the first layer (ratio 0.0015).
    sig = init["sigmoid"]
    assert sig["standard_normal"]["saturated"] > 0.3
    assert sig["small_normal"]["std"][-1] < 0.03 and sig["small_normal"]["saturated"] == 0.0
    assert sig["xavier_normal"]["std"][-1] > 0.08 and sig["xavier_normal"]["saturated"] < 0.01
    assert sig["xavier_normal"]["grad_ratio"] < 0.01
    # ReLU: Xavier's activations shrink with depth (0.55 -> 0.15), He's keep their scale.
    relu = init["relu"]
    assert relu["xavier_normal"]["std"][-1] < 0.5 * relu["xavier_normal"]["std"][0]
    assert relu["he_normal"]["std"][-1] > 0.7 * relu["he_normal"]["std"][0]
    assert relu["standard_normal"]["std"][-1] > 100  # exploding activations
    assert 0.1 < relu["he_normal"]["grad_ratio"] < 10
    names = ["init_sweep_histograms.png", "init_sweep_gradients.png", "init_sweep_curves.png"]
    assert result["figures"] == [str(tmp_path / name) for name in names]
    for name in names:
        figure = tmp_path / name
        assert figure.read_bytes()[:8] == PNG and figure.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "median [q25, q75]" in printed and "grad first/last" in printed
