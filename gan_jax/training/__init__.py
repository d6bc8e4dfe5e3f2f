"""Running and storing a run: the run plan, the game built from it, the loop, checkpoints and the run directory.

Imports ``gan_jax.evaluation``, ``gan_jax.data`` and the paper modules.
"""
