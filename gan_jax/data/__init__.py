"""Where examples come from: the sources a config's ``dataset`` names, read into a ``datasets.Dataset``.

Imports only the paper modules (``gan_jax.parallel``) and itself.
"""
