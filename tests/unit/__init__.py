"""Unit tests: no video files, no decoder, no TensorFlow (the root conftest imports neither PyAV nor TensorFlow)."""
