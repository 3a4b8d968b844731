"""Encoders whose model is a TensorFlow callable, each way run as one compiled graph of fixed batch size.

What :class:`~featkit.encoders.keras_encoder.KerasEncoder` and
:class:`~featkit.encoders.savedmodel.SavedModelEncoder` share: uint8 frames are cast and
scaled inside the graph, and the graph's batch is the encoder's ``batch_size``, so one
trace serves every call and a SavedModel written by ``featkit export`` gives bit-identical
features to the model it came from. TensorFlow is imported on the first call.
"""

from __future__ import annotations

from abc import abstractmethod
from functools import cached_property
from typing import Any

import numpy as np

from featkit.encoders.base import Encoder

__all__ = ["GraphEncoder"]


class GraphEncoder(Encoder):
    """An :class:`~featkit.encoders.Encoder` run through compiled TensorFlow graphs.

    Subclasses implement :meth:`_forward` (and :meth:`_decoder_forward` when they have a
    decoder) on TensorFlow tensors; this class compiles them for the fixed batch.
    """

    @abstractmethod
    def _forward(self, frames: Any) -> tuple[Any, Any]:
        """The model on float32 frames in [0, 1] of shape (b, S, S, 3): ``(mu, logvar)`` tensors, each (b, d)."""

    def _decoder_forward(self, z: Any) -> Any:
        """The decoder on float32 latents (b, d): frames (b, S, S, 3) in [0, 1]."""
        raise self._no_decoder("decode latents")

    @cached_property
    def _graph(self) -> Any:
        import tensorflow as tf

        forward = self._forward
        spec = tf.TensorSpec((self.batch_size, self.input_size, self.input_size, 3), tf.uint8)

        @tf.function(input_signature=[spec])
        def encode(frames: Any) -> Any:
            mu, logvar = forward(tf.cast(frames, tf.float32) / 255.0)
            return mu, logvar

        return encode

    @cached_property
    def _decode_graph(self) -> Any:
        import tensorflow as tf

        backward = self._decoder_forward
        spec = tf.TensorSpec((self.batch_size, self.latent_dim), tf.float32)

        @tf.function(input_signature=[spec])
        def decode(z: Any) -> Any:
            return backward(z)

        return decode

    def _encode_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu, logvar = self._graph(batch)
        return mu.numpy(), logvar.numpy()

    def _decode_batch(self, z: np.ndarray) -> np.ndarray:
        return self._decode_graph(z).numpy()
