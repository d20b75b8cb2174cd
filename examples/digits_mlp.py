"""Train a regularised MLP on the bundled 8x8 digits with ``train.fit`` and report test accuracy.

Regularisation: dropout, decoupled weight decay (AdamW), Gaussian input noise, and early
stopping on the validation loss that restores the best epoch. Reaches about 98% test accuracy
(97.8-98.9% over seeds 0-4) in a few seconds on a CPU.

The shape every jaxdl example shares: a ``Config``, ``train_and_evaluate(config) -> dict``,
``main(argv)`` with ``--quick`` (a few epochs, for the smoke test) and ``--out DIR`` (figures).

    python -m examples.digits_mlp [--quick] [--out DIR] [--epochs 200] [--learning-rate 1e-3]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, NamedTuple

import jax

from jaxdl import data, nn, optim, train
from jaxdl.train.regularization import augmentation


class Config(NamedTuple):
    """Everything that defines a run."""

    hidden: int = 256
    dropout: float = 0.2
    input_noise: float = 0.1  # std of Gaussian noise added to the training inputs (0: off)
    label_smoothing: float = 0.0
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    epochs: int = 200  # an upper bound: early stopping ends the run
    patience: int = 20
    seed: int = 0
    quick: bool = False


QUICK = {"epochs": 3}


def make_model(config: Config) -> nn.Layer:
    return nn.serial(nn.Dense(config.hidden, w_init="he_normal"), nn.relu,
                     nn.Dropout(config.dropout), nn.Dense(10))


def train_and_evaluate(config: Config, out: str | None = None) -> dict[str, Any]:
    """Splits the digits 60/20/20 (stratified), trains with early stopping on the validation
    loss (restoring the best epoch), and evaluates once on the test part.

    Args:
      config: the run's settings.
      out: a folder for the loss/accuracy plot (``digits_mlp.png``); ``None``: no plot.

    Returns:
      ``test_accuracy``, ``test_loss``, ``best_epoch``, ``epochs_run``, ``seconds`` (the
      ``fit`` call, compilation included), ``history`` (a dict of per-epoch lists) and, with
      ``out``, ``figure`` (the PNG's path).
    """
    key_split, key_fit = jax.random.split(jax.random.key(config.seed))
    X, y = data.digits()
    train_part, val_part, test_part = data.split(X, y, (0.6, 0.2, 0.2), key=key_split,
                                                 stratify=True)
    model = make_model(config)
    optimizer = optim.adamw(config.learning_rate, weight_decay=config.weight_decay)
    rule = train.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best=True)
    augment = augmentation(input_noise=config.input_noise,
                           label_smoothing=config.label_smoothing, num_classes=10)
    start = time.perf_counter()
    ts, history = train.fit(model, optimizer, train_part, key=key_fit, val=val_part,
                            epochs=config.epochs, batch_size=config.batch_size, augment=augment,
                            early_stopping=rule, progress=not config.quick)
    seconds = time.perf_counter() - start
    test = train.evaluate(model, ts, test_part)
    best_epoch = min(range(len(history)), key=lambda i: history["val_loss"][i])
    result = {"test_accuracy": test["accuracy"], "test_loss": test["loss"],
              "best_epoch": best_epoch, "epochs_run": len(history), "seconds": seconds,
              "history": history.as_dict()}
    if out is not None:
        title = (f"digits MLP: {config.hidden} ReLU units, dropout {config.dropout}, "
                 f"input noise {config.input_noise}, AdamW")
        result["figure"] = plot_history(result["history"], best_epoch,
                                        os.path.join(out, "digits_mlp.png"), title)
    return result


def format_history(history: dict[str, list[float]], best_epoch: int, rows: int = 20) -> str:
    """A table of train/validation loss and accuracy: about ``rows`` evenly spaced epochs plus
    the best (marked ``*``) and the last."""
    n = len(history["epoch"])
    stride = -(-n // rows)
    shown = sorted({*range(0, n, stride), best_epoch, n - 1})
    lines = ["epoch  train loss  acc     val loss  acc"]
    for i in shown:
        mark = "  * restored" if i == best_epoch else ""
        lines.append(f"{int(history['epoch'][i]):5d}  {history['train_loss'][i]:10.4f}  "
                     f"{history['train_accuracy'][i]:.4f}  {history['val_loss'][i]:8.4f}  "
                     f"{history['val_accuracy'][i]:.4f}{mark}")
    return "\n".join(lines)


def plot_history(history: dict[str, list[float]], best_epoch: int, path: str,
                 title: str = "") -> str:
    """Saves loss and accuracy curves (train and validation) side by side as a PNG."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("the digits_mlp plot needs matplotlib: pip install 'jaxdl[bench]' "
                          "(or leave out --out)") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for part in ("train", "val"):
            ax.plot(history["epoch"], history[f"{part}_{metric}"], label=part)
        ax.axvline(history["epoch"][best_epoch], color="gray", ls=":", label="restored")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    axes[0].set_yscale("log")
    fig.suptitle(title)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['epochs']} epochs, no progress bar (the smoke test)")
    parser.add_argument("--out", metavar="DIR", help="save the loss/accuracy plot here")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--input-noise", type=float, default=defaults.input_noise)
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = Config(learning_rate=args.learning_rate, dropout=args.dropout,
                    input_noise=args.input_noise, label_smoothing=args.label_smoothing,
                    seed=args.seed, epochs=QUICK["epochs"] if args.quick else args.epochs,
                    quick=args.quick)
    result = train_and_evaluate(config, args.out)
    print(format_history(result["history"], result["best_epoch"]))
    print(f"restored epoch {result['best_epoch']} of {result['epochs_run']}; test accuracy "
          f"{result['test_accuracy']:.4f}, test loss {result['test_loss']:.4f}; fit took "
          f"{result['seconds']:.1f} s on {jax.devices()[0].platform}")
    if "figure" in result:
        print(f"saved {result['figure']}")
    return result


if __name__ == "__main__":
    main()
