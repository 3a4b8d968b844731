"""Input side of featkit: finding videos, reading frames, and choosing which frames to read."""
