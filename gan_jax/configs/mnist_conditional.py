"""The conditional GAN of the paper's §7.1 on MNIST: G(z, c) and D(x, c), c the digit, one-hot.

Commands (TFDS, or the four MNIST IDX files for machines without network):
  python -m experiments.train --config gan_jax/configs/mnist_conditional.py --workdir runs/mnist_conditional
  python -m experiments.train --config gan_jax/configs/mnist_conditional.py --workdir runs/mnist_conditional \\
      --config.dataset=idx:/path/to/mnist
  python -m experiments.train_classifier --config gan_jax/configs/mnist_classifier.py --workdir runs/classifier
  python -m experiments.evaluate --workdir runs/mnist_conditional --params ema --classifier runs/classifier

The paper's MNIST networks (``mnist_paper``), each widened only by the label
input: G takes [z, one_hot(c)] (100 + 10 inputs), D takes [x, one_hot(c)]
(784 + 10; its input dropout masks the pixels only, so D always sees the
class it judges). Real pairs (x, c) come from the data's labels; a generated
x is judged with the label it was generated for, drawn uniformly over the 10
classes. Losses, simultaneous updates and k = 1 as ``mnist_paper``; the
optimiser of ``mnist_fast`` (SGD, constant ε 0.15, μ 0.7), and G's weights
averaged over about the last 2 epochs (β = 0.999), the average that gave the
best Fréchet distance and recall of the unconditional 20-epoch probes
(docs/table1.md). 40 epochs; the sample pictures show one row per digit, a
column per z. ``experiments.evaluate --classifier`` reports the conditional
accuracy: the fraction of samples generated for digit c that the classifier
reads as c. Results: docs/conditional.md.
"""

from gan_jax.configs import mnist_fast


def get_config():
  config = mnist_fast.get_config()
  config.update(dict(num_classes=10, g_ema_decay=0.999, g_ema_warmup=0.0, num_steps=20_000,
                     checkpoint_every_steps=2500))
  return config
