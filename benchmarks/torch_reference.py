"""The paper's MNIST GAN and one Algorithm 1 iteration in PyTorch (eager), for speed comparisons.

Same model and update as gan_jax with ``benchmarks/throughput.py``'s settings:
G: z (100, U(−√3, √3)) → 1200 ReLU → 1200 ReLU → 784 sigmoid, weights U(±0.05);
D: dropout keep 0.8 → maxout 240×5 → dropout 0.5 → maxout 240×5 → dropout 0.5
→ 1 logit, weights U(±0.005); k = 1 alternating updates: D descends −½V̂ on m
real and m fresh fake examples (G's output detached), then G descends the
non-saturating loss on m fresh noise samples through D in training mode;
momentum SGD in pylearn2's form v ← μv − εg, θ ← θ + v, with ε = 0.1/1.000004ᵗ.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def _uniform_linear(in_dim: int, out_dim: int, limit: float) -> nn.Linear:
  layer = nn.Linear(in_dim, out_dim)
  nn.init.uniform_(layer.weight, -limit, limit)
  nn.init.zeros_(layer.bias)
  return layer


class Generator(nn.Module):

  def __init__(self, latent_dim=100, hidden=(1200, 1200), output_dim=784, init_range=0.05):
    super().__init__()
    dims = [latent_dim, *hidden]
    self.hidden = nn.ModuleList(_uniform_linear(a, b, init_range) for a, b in zip(dims[:-1], dims[1:]))
    self.output = _uniform_linear(dims[-1], output_dim, init_range)

  def forward(self, z):
    h = z
    for layer in self.hidden:
      h = F.relu(layer(h))
    return torch.sigmoid(self.output(h))


class MaxoutDiscriminator(nn.Module):

  def __init__(self, input_dim=784, units=(240, 240), pieces=5, input_keep=0.8, hidden_keep=0.5,
               init_range=0.005):
    super().__init__()
    dims = [input_dim, *units]
    self.hidden = nn.ModuleList(_uniform_linear(a, b * pieces, init_range) for a, b in zip(dims[:-1], dims[1:]))
    self.output = _uniform_linear(dims[-1], 1, init_range)
    self.units, self.pieces = units, pieces
    self.drop_rates = [1 - input_keep] + [1 - hidden_keep] * len(units)

  def forward(self, x):
    h = x
    for layer, units, rate in zip(self.hidden, self.units, self.drop_rates):
      h = F.dropout(h, rate, self.training)
      h = layer(h).view(h.shape[0], units, self.pieces).amax(dim=-1)
    return self.output(F.dropout(h, self.drop_rates[-1], self.training))[:, 0]


class VelocitySGD:
  """v ← μv − εg; θ ← θ + v (pylearn2's Momentum), ε decaying per update."""

  def __init__(self, params, lr=0.1, momentum=0.5, decay=1.000004):
    self.params = [p for p in params]
    self.velocity = [torch.zeros_like(p) for p in self.params]
    self.lr, self.momentum, self.log_decay, self.count = lr, momentum, math.log(decay), 0

  @torch.no_grad()
  def step(self):
    lr = self.lr * math.exp(-self.log_decay * self.count)
    grads = [p.grad for p in self.params]
    torch._foreach_mul_(self.velocity, self.momentum)
    torch._foreach_add_(self.velocity, grads, alpha=-lr)
    torch._foreach_add_(self.params, self.velocity)
    self.count += 1


class TorchGAN:
  """Models, optimisers and one alternating iteration."""

  def __init__(self, seed: int = 0, batch_size: int = 100, g_hidden_dims=(1200, 1200),
               d_hidden_dims=(240, 240), maxout_pieces=5):
    torch.manual_seed(seed)
    self.generator = Generator(hidden=g_hidden_dims)
    self.discriminator = MaxoutDiscriminator(units=d_hidden_dims, pieces=maxout_pieces)
    self.g_optimizer = VelocitySGD(self.generator.parameters())
    self.d_optimizer = VelocitySGD(self.discriminator.parameters())
    self.batch_size = batch_size

  def _noise(self):
    return torch.empty(self.batch_size, 100).uniform_(-math.sqrt(3), math.sqrt(3))

  def iteration(self, x_real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One D update on x_real [m, 784] and fresh noise, then one G update; returns both losses."""
    d, g = self.discriminator, self.generator
    with torch.no_grad():
      x_fake = g(self._noise())
    real_logits, fake_logits = d(x_real), d(x_fake)
    d_loss = 0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())
    d.zero_grad(set_to_none=False)
    d_loss.backward()
    self.d_optimizer.step()

    d.requires_grad_(False)  # G's update needs gradients through D, not of D's weights
    g_loss = F.softplus(-d(g(self._noise()))).mean()  # −mean log D(G(z))
    g.zero_grad(set_to_none=False)
    g_loss.backward()
    self.g_optimizer.step()
    d.requires_grad_(True)
    return d_loss.detach(), g_loss.detach()
