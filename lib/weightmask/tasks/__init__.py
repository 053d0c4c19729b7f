"""Datasets of the paper's experiments, as plain tensors or (input, output) string pairs."""
