"""How good a generator is: Table 1's Parzen estimate, mode coverage, classifier metrics, sample pictures.

Pure functions of samples and data; imports ``gan_jax.data`` and the paper modules only.
"""
