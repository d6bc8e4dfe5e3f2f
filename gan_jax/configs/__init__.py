"""Experiment presets: ``python -m experiments.train --config gan_jax/configs/<preset>.py``."""
