"""K-means clustering accuracy of codes, with Hungarian matching (the ACAI clustering protocol).

Berthelot, Raffel, Roy, Goodfellow, arXiv:1807.07543, "Improved representation
learning" / "Clustering" (PAPERS.md §5: "K-means on whitened latents with
Hungarian-matched accuracy"): encode the data, whiten the latents, run K-means
with K = the number of classes, map each cluster to one class by the one-to-one
assignment that maximises agreement (Hungarian algorithm), and report the accuracy.

Whitening: the official code (github.com/brain-research/acai, ``cluster.py``,
default ``--use_svd=1``) centres the TRAINING latents, rotates them onto their
singular vectors and divides by the singular values, then applies the same map
to the test latents. That is PCA whitening (it differs from scikit-learn's
``PCA(whiten=True)`` only by the global factor ``sqrt(n - 1)``, which K-means
ignores), so :func:`kmeans_accuracy` uses ``PCA(whiten=True)``, not a per-feature
``StandardScaler`` (which does not decorrelate the components).

K-means: the official code fits K-means on the training latents with
``init="random"``, ``n_init=1000``, ``max_iter=1000`` and scores the test latents.
Here ``n_init`` defaults to 10 k-means++ restarts (the lowest-inertia run is kept,
as with 1000) to fit a CPU budget; pass ``Z_fit`` to fit on the training codes.

Orientation: codes ``Z`` are ``(n_samples, n_components)``, labels ``y`` ``(n_samples,)``.
"""

from __future__ import annotations

import numpy as np


def hungarian_accuracy(assignments: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of cluster ids against labels under the best ONE-TO-ONE cluster -> label map.

    Args:
        assignments: cluster ids ``(n_samples,)``, non-negative ints.
        y: labels ``(n_samples,)``, non-negative ints.

    Returns:
        the fraction in [0, 1] of samples whose cluster is mapped to their label, for the
        matching (``scipy.optimize.linear_sum_assignment`` on the contingency table) that
        maximises it. Each label receives at most one cluster: with more clusters than
        labels the unmatched clusters count as errors (a many-to-one, majority-vote map
        would score higher; it is not what the papers report).

    Raises:
        ValueError: ``assignments`` and ``y`` differ in length or are empty.
    """
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(assignments).astype(np.int64).ravel()
    t = np.asarray(y).astype(np.int64).ravel()
    if len(a) != len(t) or len(a) == 0:
        raise ValueError(f"need equal, non-zero lengths; got {len(a)} assignments, {len(t)} labels")
    table = np.zeros((a.max() + 1, t.max() + 1), dtype=np.int64)  # (clusters, labels)
    np.add.at(table, (a, t), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(a))


def kmeans_accuracy(
    Z: np.ndarray,
    y: np.ndarray,
    n_clusters: int = 10,
    seed: int = 0,
    *,
    Z_fit: np.ndarray | None = None,
    n_init: int = 10,
    whiten: bool = True,
) -> float:
    """Hungarian-matched K-means accuracy of the codes ``Z`` (ACAI clustering protocol).

    Args:
        Z: codes to score, ``(n_samples, n_components)``.
        y: their labels, ``(n_samples,)`` ints.
        n_clusters: K (the number of classes: 10 for MNIST).
        seed: K-means ``random_state`` (initialisations).
        Z_fit: codes ``(n_fit, n_components)`` the whitening and K-means are fitted on
            (the paper's protocol: the training codes); None fits on ``Z`` itself.
        n_init: k-means++ restarts; the run with the lowest inertia is kept.
        whiten: PCA-whiten first (the paper's choice); False clusters the raw codes.

    Returns:
        accuracy in [0, 1] (see :func:`hungarian_accuracy`).
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    Z = np.asarray(Z, dtype=np.float64)
    fit = Z if Z_fit is None else np.asarray(Z_fit, dtype=np.float64)
    if whiten:
        pca = PCA(whiten=True, random_state=seed).fit(fit)  # (n_components,) unit-variance axes
        fit, Z = pca.transform(fit), pca.transform(Z)
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(fit)
    return hungarian_accuracy(km.predict(Z), y)
