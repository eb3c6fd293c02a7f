"""The codebook: a discrete goal space of real dataset goals (PTGM §4.2, "goal clustering").

Goals are compared in standardised goal space (each dim centred and scaled by the codebook data's
mean and std), both when clustering and when labelling a goal with its code, so that joint angles
in radians and object positions in metres weigh alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_QPOS, goal_indices, goal_names
from ptgm_cli.kitchen.tasks import SUBTASK_QPOS_INDICES, SUBTASKS, subtask_done

CODEBOOK_FILE = "codebook.safetensors"
# A joint that nothing in the data moves varies only by observation noise (~1e-5); scaled to unit
# std, that noise would weigh as much as a real goal dim. A floor of 0.01 (rad or m) mutes it.
MIN_GOAL_STD = 1e-2


@dataclass(frozen=True)
class Codebook:
    codes: np.ndarray  # (n_codes, goal_dim) float32, each a real dataset goal
    goal_dims: str  # the goal-dims preset
    goal_mean: np.ndarray  # (goal_dim,) of the clustered goals
    goal_std: np.ndarray  # (goal_dim,)

    @property
    def goal_indices(self) -> tuple[int, ...]:
        return goal_indices(self.goal_dims)

    @property
    def goal_names(self) -> list[str]:
        return goal_names(self.goal_dims)

    @property
    def n_codes(self) -> int:
        return len(self.codes)

    @property
    def goal_dim(self) -> int:
        return self.codes.shape[1]

    def goals_of(self, qpos_states: np.ndarray) -> np.ndarray:
        """The goals of 30-dim qpos states, any batch shape."""
        return np.asarray(qpos_states, dtype=np.float32)[..., list(self.goal_indices)]

    def standardise(self, goals: np.ndarray) -> np.ndarray:
        return (np.asarray(goals, dtype=np.float32) - self.goal_mean) / self.goal_std

    def assign(self, goals: np.ndarray, similarity: str = "cosine") -> np.ndarray:
        """Index of each goal's nearest code, (N, goal_dim) -> (N,).

        cosine (the paper): argmax of cos(z(g), z(c)), z = standardisation. The paper took the
        cosine of raw goals, but raw Kitchen goals share a large common offset (arm joints near
        +-2 rad, kettle height 1.6 m, quaternion w near 1): every raw goal points almost the same
        way, all similarities are close to 1 and the argmax is dominated by that offset.
        Centring on the data mean makes cosine compare the directions in which goals depart from
        the average state, and scaling puts radians and metres on par, as in the clustering.
        On the scripted data (50 codes, paper21) raw cosines of a goal to all codes span
        0.77-0.99 and the labels agree with the k-means clusters for 66% of goals; standardised,
        they span -0.53-0.87 and agree for 96%.
        euclidean: argmin of |z(g) - z(c)|, the k-means assignment itself.
        """
        goals, codes = self.standardise(goals), self.standardise(self.codes)
        if similarity == "cosine":
            goals = goals / np.maximum(np.linalg.norm(goals, axis=-1, keepdims=True), 1e-8)
            codes = codes / np.maximum(np.linalg.norm(codes, axis=-1, keepdims=True), 1e-8)
            return np.argmax(goals @ codes.T, axis=-1)
        if similarity == "euclidean":
            squared = (goals**2).sum(-1, keepdims=True) - 2 * goals @ codes.T + (codes**2).sum(-1)
            return np.argmin(squared, axis=-1)
        raise ValueError(f"unknown similarity {similarity!r}")

    def covered_subtasks(self) -> list[str]:
        """Subtasks whose object joints are all goal dims, so that a code can command them."""
        return [task for task in SUBTASKS
                if set(SUBTASK_QPOS_INDICES[task]) <= set(self.goal_indices)]

    def subtasks_done(self) -> dict[str, np.ndarray]:
        """For each covered subtask, which codes have it completed, (n_codes,) bool."""
        qpos = np.full((self.n_codes, N_QPOS), np.nan, dtype=np.float32)
        qpos[:, list(self.goal_indices)] = self.codes
        return {task: subtask_done(qpos, task) for task in self.covered_subtasks()}

    def save(self, path: Path) -> None:
        save_file({"codes": self.codes, "goal_mean": self.goal_mean, "goal_std": self.goal_std,
                   "goal_indices": np.array(self.goal_indices, dtype=np.int64)}, str(path))


def standardisation(goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of goals, std floored at MIN_GOAL_STD."""
    std = np.maximum(goals.std(axis=0), MIN_GOAL_STD)
    return goals.mean(axis=0).astype(np.float32), std.astype(np.float32)


@dataclass(frozen=True)
class Clustering:
    """Which data goals became codes, every goal's cluster and a 2-D view of the data."""

    code_rows: np.ndarray  # (n_codes,) rows of the clustered goals
    labels: np.ndarray  # (N,)
    embedding: np.ndarray  # (N, 2): t-SNE, or the first two principal components

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.code_rows))


def cluster_goals(standardised_goals: np.ndarray, n_codes: int, method: str,
                  seed: int) -> Clustering:
    """k-means++ clusters; each code is the real goal nearest its cluster's centre.

    kmeans clusters the standardised goals themselves; tsne-kmeans is the paper's variant: t-SNE
    to 2-D, then k-means++ on the 2-D points, nearest sample in 2-D.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if len(standardised_goals) < n_codes:
        raise PtgmError(
            f"{len(standardised_goals)} goals cannot make {n_codes} codes; "
            "lower --n-codes or --subsample, or fetch more data"
        )
    if method == "tsne-kmeans":
        embedding = TSNE(n_components=2, init="pca", random_state=seed).fit_transform(
            standardised_goals)
        points = embedding
    else:
        embedding = PCA(n_components=2, svd_solver="full").fit_transform(standardised_goals)
        points = standardised_goals
    kmeans = KMeans(n_clusters=n_codes, init="k-means++", n_init=4, random_state=seed)
    labels = kmeans.fit_predict(points)
    code_rows = np.empty(n_codes, dtype=np.int64)
    for cluster, centre in enumerate(kmeans.cluster_centers_):
        members = np.flatnonzero(labels == cluster)
        code_rows[cluster] = members[np.argmin(np.linalg.norm(points[members] - centre, axis=1))]
    return Clustering(code_rows, labels, embedding.astype(np.float32))


def plot_codebook(path: Path, clustering: Clustering, title: str) -> None:
    """The data's 2-D view in grey, each code at its sample's position coloured by cluster size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 6), dpi=110)
    axes.scatter(*clustering.embedding.T, s=2, c="0.85", linewidths=0, rasterized=True)
    codes = clustering.embedding[clustering.code_rows]
    points = axes.scatter(*codes.T, s=40, c=clustering.cluster_sizes, cmap="viridis",
                          edgecolors="black", linewidths=0.5)
    for index, (x, y) in enumerate(codes):
        axes.annotate(str(index), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    figure.colorbar(points, ax=axes, label="cluster size (goals)")
    axes.set_title(title)
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
