"""The encoder interface featkit extracts with (no TensorFlow here)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

__all__ = ["Encoder"]


class Encoder(ABC):
    """Maps RGB frames to a diagonal Gaussian posterior ``(mu, logvar)``.

    Subclasses set ``name``, ``input_size`` and ``latent_dim`` and implement
    :meth:`encode` and :meth:`identity`.
    """

    name: str
    input_size: int
    latent_dim: int

    @abstractmethod
    def encode(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode frames.

        Parameters
        ----------
        frames : ndarray of shape (n, input_size, input_size, 3), uint8

        Returns
        -------
        mu, logvar : ndarray of shape (n, latent_dim), float32

        """

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Name, weights sha256 and config: what is stored as provenance."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} input={self.input_size}px latent={self.latent_dim}>"
