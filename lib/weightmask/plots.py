"""Seaborn figures, one function per kind of figure; each returns the matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

sns.set_theme(context="notebook", style="whitegrid")


def sampling(df: pd.DataFrame) -> plt.Figure:
    """Hard-sample mean, soft-sample mean and straight-through gradient vs the logit, per tau."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    palette = sns.color_palette("viridis", df["tau"].nunique())
    curve = df.drop_duplicates("logit").sort_values("logit")
    for ax, col, title in zip(axes, ("hard_mean", "soft_mean", "st_grad"),
                              ("mean of hard samples b", "mean of soft samples s",
                               "mean straight-through gradient db/dl")):
        sns.lineplot(df, x="logit", y=col, hue="tau", palette=palette, marker="o", ax=ax,
                     legend=ax is axes[0])
        if col != "st_grad":
            ax.plot(curve["logit"], curve["sigmoid"], "k--", lw=1.5, label="sigmoid(l)")
        ax.set(title=title, xlabel="logit l", ylabel="")
    axes[2].set_yscale("log")
    axes[0].legend(title="tau", loc="upper left")
    return fig


def probability_histogram(hist: pd.DataFrame, title: str = "") -> plt.Figure:
    """Histogram of mask probabilities sigmoid(l) (paper Fig. 9b), mean over seeds, log scale."""
    h = hist.groupby(["left", "right"], as_index=False)["fraction"].mean()
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    ax.bar(h["left"], h["fraction"].replace(0, np.nan), width=h["right"] - h["left"], align="edge",
           color=sns.color_palette()[0], edgecolor="white")
    ax.set(yscale="log", xlim=(0, 1), xlabel="mask probability sigmoid(l)",
           ylabel="fraction of weights", title=title or "distribution of mask probabilities")
    return fig


def accuracy_bars(df: pd.DataFrame, x: str = "op", hue: str = "model", title: str = "") -> plt.Figure:
    """Accuracy per group with the spread over seeds."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    sns.barplot(df, x=x, y="accuracy", hue=hue, errorbar="sd", ax=ax)
    ax.set(ylim=(0, 1.05), title=title)
    ax.legend(loc="lower right")
    return fig


def per_layer_bars(df: pd.DataFrame, y: str, ylabel: str, title: str = "", hue: str = "op",
                   percent: bool = False, panel: str | None = None) -> plt.Figure:
    """One bar per layer and ``hue`` (mean over seeds, with its spread): paper Fig. 1, 2, 12.

    With ``panel`` (e.g. ``"net"``) one panel per value of that column, side by side.
    """
    groups = list(df.groupby(panel, sort=False)) if panel else [(None, df)]
    widths = [max(2.0, 1.1 * g["layer"].nunique()) for _, g in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(max(7.0, sum(widths) + 2), 3.8), sharey=True,
                             constrained_layout=True, squeeze=False, width_ratios=widths)
    for ax, (name, g) in zip(axes[0], groups):
        sns.barplot(g, x="layer", y=y, hue=hue, errorbar="sd", ax=ax, legend=ax is axes[0][-1])
        ax.set(xlabel="layer", ylabel=ylabel if ax is axes[0][0] else "", title=str(name) if panel else "")
        if percent:
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    if title:
        fig.suptitle(title)
    return fig


def performed_heatmaps(df: pd.DataFrame, masks, title: str = "", row: str | None = None) -> plt.Figure:
    """Per mask, the share of answers that are each operation's result, by selector (paper Fig. 13);
    with ``row`` (e.g. ``"net"``) one row of panels per value of that column."""
    masks = list(masks)
    rows = list(df.groupby(row, sort=False)) if row else [(None, df)]
    fig, axes = plt.subplots(len(rows), len(masks), figsize=(3.6 * len(masks), 3.2 * len(rows)),
                             constrained_layout=True, squeeze=False)
    for axrow, (name, part) in zip(axes, rows):
        for ax, m in zip(axrow, masks):
            grid = (part[part["mask"] == m].groupby(["selector", "performed"])["fraction"].mean()
                    .unstack("performed"))
            sns.heatmap(grid, annot=True, fmt=".0%", vmin=0, vmax=1, cmap="viridis", cbar=False, ax=ax)
            ax.set(title=f"{name}, mask: {m}" if row else f"mask: {m}", xlabel="operation performed",
                   ylabel="selector asks for")
    if title:
        fig.suptitle(title)
    return fig


def beta_sweep(df: pd.DataFrame, keep: float = 0.95, title: str = "") -> plt.Figure:
    """Per network: accuracy kept by the add and mul masks and weights shared, against beta
    (log axis), mean over seeds (paper Fig. 10)."""
    d = df.assign(kept=np.minimum(df["add"] / df["unmasked_add"], df["mul"] / df["unmasked_mul"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for ax, y, label in ((axes[0], "kept", "accuracy kept (worse op, rel. to unmasked)"),
                         (axes[1], "shared", "add's weights shared with mul")):
        sns.lineplot(d, x="beta", y=y, hue="network", marker="o", errorbar="sd", ax=ax)
        ax.set(xscale="log", xlabel="beta", ylabel=label, ylim=(0, 1.05))
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    axes[0].axhline(keep, color="k", ls="--", lw=1)
    if title:
        fig.suptitle(title)
    return fig


def probability_histograms(hist: pd.DataFrame, title: str = "") -> plt.Figure:
    """Histograms of mask probabilities sigmoid(l), one line per ``model``, log scale (Fig. 9b)."""
    h = hist.groupby(["model", "left", "right"], as_index=False)["fraction"].mean()
    h["center"] = (h["left"] + h["right"]) / 2
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    sns.lineplot(h.replace({"fraction": {0: np.nan}}), x="center", y="fraction", hue="model",
                 drawstyle="steps-mid", ax=ax)
    ax.set(yscale="log", xlim=(0, 1), xlabel="mask probability sigmoid(l)", ylabel="fraction of weights",
           title=title or "distribution of mask probabilities")
    return fig


def class_drops(drops: pd.DataFrame, title: str = "") -> plt.Figure:
    """Per removed class and network: its relative accuracy drop (paper Fig. 6a) and the largest
    drop of another class relative to it (Fig. 6b)."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4), constrained_layout=True)
    for ax, y, label in ((axes[0], "drop", "relative accuracy drop of the removed class"),
                         (axes[1], "other_over_target", "largest other-class drop / removed class's")):
        sns.barplot(drops.replace([np.inf], np.nan), x="removed", y=y, hue="net", errorbar="sd", ax=ax,
                    legend=ax is axes[0])
        ax.set(xlabel="removed class", ylabel=label)
        ax.tick_params(axis="x", rotation=45)
        ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    if title:
        fig.suptitle(title)
    return fig


def confusion_heatmaps(conf: pd.DataFrame, masks, classes, reference: str | None = None, title: str = "",
                       columns: int = 5) -> plt.Figure:
    """Row-normalized confusion matrices [true, predicted] per mask (paper Fig. 17), or with
    ``reference`` their difference to that mask's (Fig. 18-20), mean over seeds."""
    masks = list(masks)
    rows = -(-len(masks) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(masks)), figsize=(3.3 * min(columns, len(masks)), 3.1 * rows),
                             constrained_layout=True, squeeze=False)
    mean = conf.groupby(["mask", "true", "predicted"])["fraction"].mean()
    grid = lambda m: mean[m].unstack("predicted").reindex(index=classes, columns=classes)  # noqa: E731
    for ax, m in zip(axes.flat, masks):
        g = grid(m) - grid(reference) if reference else grid(m)
        sns.heatmap(g, ax=ax, cmap="RdBu_r" if reference else "viridis", center=0 if reference else None,
                    vmin=-1 if reference else 0, vmax=1, cbar=False, xticklabels=True, yticklabels=True)
        ax.set(title=f"removed: {m}" if reference else m, xlabel="predicted", ylabel="true")
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(masks):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def removed_per_token(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Share of each output token's output-layer weights that one mask removes against another
    (paper Fig. 4b), mean over seeds with the spread."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    sns.barplot(df, x="token", y="removed", errorbar="sd", ax=ax, color=sns.color_palette()[0])
    ax.set(ylim=(0, 1), xlabel="output token", ylabel="share of its weights removed", title=title)
    ax.tick_params(axis="x", rotation=30)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    return fig


def removed_per_layer(df: pd.DataFrame, title: str = "") -> plt.Figure:
    """Per weight matrix (column ``layer``), the share of one mask's weights that each mask in ``mask``
    removes (paper Sec. 4: the LSTM decoder on add-jump), mean over seeds with the spread."""
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    sns.barplot(df, x="layer", y="removed", hue="mask", errorbar="sd", ax=ax)
    ax.set(xlabel="weight matrix", ylabel="share removed", title=title)
    ax.tick_params(axis="x", rotation=20)
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    return fig
