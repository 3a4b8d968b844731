"""Integration tests: real videos from the factory through the real decoders, the shipped encoder, real HDF5."""
