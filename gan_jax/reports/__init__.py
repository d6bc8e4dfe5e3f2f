"""What is made from stored runs: their evaluation, the paper's figures, the records of a sweep of seeds.

The top ring: imports ``gan_jax.training`` and everything below it.
"""
