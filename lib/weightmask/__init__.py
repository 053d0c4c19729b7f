"""weightmask."""
