"""The ACAI critic (Berthelot et al., arXiv:1807.07543, §3).

"The critic has the same architecture as the encoder, its output averaged to a
scalar": :class:`Critic` wraps a freshly built (independently initialised)
encoder of the autoencoder's own family and averages its code over the code
dimension. It is a training-time part only: it is never exported, registered
or served.
"""

from __future__ import annotations

import torch
from torch import nn

from aezoo.models import create_model
from aezoo.models.base import AutoEncoder


class Critic(nn.Module):
    """``d(x)``: predicts the mixing coefficient of an interpolation from the image.

    Args:
        model: the autoencoder being regularised; only its ``architecture`` and
            ``model_args()`` are read (its weights are not shared).
    """

    def __init__(self, model: AutoEncoder) -> None:
        super().__init__()
        self.net = create_model(model.architecture, model.model_args())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs ``(B, n_features)`` to scores ``(B,)``."""
        return self.net.encode(x).mean(dim=1)  # (B, n_components) -> (B,)
