"""Generator and discriminator networks (§5 of the paper), as Flax NNX modules.

The modules are only the definition of a network. Training never mutates
them: ``as_pure_function`` splits a module once into a pure function and a
plain nested dict of parameters, and the train steps work on those.

Shapes: examples are flat vectors, ``x: [batch, features]`` (an MNIST image is
784 pixels in [0, 1]); noise is ``z: [batch, latent_dim]``; the discriminator
returns one logit per example, ``[batch]``, with D(x) = sigmoid(logit).
A discriminator's ``dropout_key`` switches dropout on (a key) or off (None).
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

Params = dict[str, Any]

OUTPUT_ACTIVATIONS = {'sigmoid': jax.nn.sigmoid, 'identity': lambda h: h}
LEAKY_RELU_SLOPE = 0.2  # DCGAN's (Radford et al., 2016): a unit never stops passing gradient
HIDDEN_ACTIVATIONS = {'relu': jax.nn.relu, 'sigmoid': jax.nn.sigmoid,
                      'leaky_relu': lambda h: jax.nn.leaky_relu(h, LEAKY_RELU_SLOPE)}
# Float32 matrix-product precisions (config.matmul_precision); 'default' is JAX's: TF32 on recent NVIDIA GPUs,
# one bfloat16 pass on TPUs, float32 on CPUs.
MATMUL_PRECISIONS = ('default', 'tensorfloat32', 'bfloat16', 'float32')


def uniform_init(limit: float) -> nnx.Initializer:
  """Initializer drawing each weight from U(−limit, limit), as pylearn2's ``irange``."""
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, minval=-limit, maxval=limit)
  return init


InitRange = float | nnx.Initializer | None  # U(±range), an initializer, or None for Flax's default


def _kernel_init(init_range: InitRange) -> dict[str, nnx.Initializer]:
  """``nnx.Linear``'s keyword for weights ~ ``init_range`` (every network's ``init_range`` takes these forms)."""
  if init_range is None:
    return {}
  return {'kernel_init': init_range if callable(init_range) else uniform_init(init_range)}


def _linear(in_dim: int, out_dim: int, init_range: InitRange, rngs: nnx.Rngs,
            bias: np.ndarray | None = None) -> nnx.Linear:
  """Dense layer with weights ~ ``init_range`` (see ``InitRange``) and zero (or given) bias."""
  kwargs = _kernel_init(init_range)
  if bias is not None:
    bias = np.asarray(bias, np.float32)
    if bias.shape != (out_dim,):
      raise ValueError(f'output_bias has shape {bias.shape}, expected ({out_dim},)')
    kwargs['bias_init'] = lambda key, shape, dtype=jnp.float32: jnp.asarray(bias, dtype)
  return nnx.Linear(in_dim, out_dim, rngs=rngs, **kwargs)


def sigmoid_bias_from_marginals(pixel_means: np.ndarray, eps: float = 1e-3) -> np.ndarray:
  """Output bias logit(mean pixel), as the original code's ``init_sigmoid_bias_from_marginals``.

  With zero weights the generator's sigmoid output then equals the data's
  per-pixel mean. Args: pixel_means [features] in [0, 1] (clipped to
  [eps, 1 − eps]). Returns [features] float32.
  """
  mean = np.clip(np.asarray(pixel_means, np.float64), eps, 1.0 - eps)
  return np.log(mean / (1.0 - mean)).astype(np.float32)


def _check_activations(hidden_activations: Sequence[str], hidden_dims: Sequence[int]) -> tuple[str, ...]:
  activations = tuple(hidden_activations)
  if len(activations) != len(hidden_dims) or not set(activations) <= set(HIDDEN_ACTIVATIONS):
    raise ValueError(f'hidden_activations={activations!r} must name one of {sorted(HIDDEN_ACTIVATIONS)} '
                     f'for each of the {len(hidden_dims)} hidden layers')
  return activations


class MLPGenerator(nnx.Module):
  """G: z [batch, latent_dim] → hidden layers → x [batch, output_dim].

  The paper's MNIST generator is ``MLPGenerator(100, (1200, 1200), 784)``:
  two ReLU layers of 1200 units and a sigmoid output (pixels in [0, 1]),
  all weights U(±0.05), biases zero except optionally the output bias. Its
  fully connected CIFAR-10 generator has hidden layers of 8000 ReLU and 8000
  sigmoid units (``hidden_activations=('relu', 'sigmoid')``).
  """

  def __init__(self, latent_dim: int, hidden_dims: Sequence[int], output_dim: int, *,
               output_activation: str = 'sigmoid', hidden_activations: Sequence[str] | None = None,
               init_range: float | None = 0.05, output_bias: np.ndarray | None = None, rngs: nnx.Rngs):
    if output_activation not in OUTPUT_ACTIVATIONS:
      raise ValueError(f'output_activation={output_activation!r}; allowed: {sorted(OUTPUT_ACTIVATIONS)}')
    self.hidden_activations = _check_activations(hidden_activations or ['relu'] * len(hidden_dims), hidden_dims)
    dims = [latent_dim, *hidden_dims]
    self.hidden = nnx.List([_linear(a, b, init_range, rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.output = _linear(dims[-1], output_dim, init_range, rngs, bias=output_bias)
    self.output_activation = output_activation

  def __call__(self, z: jax.Array) -> jax.Array:
    h = z
    for layer, activation in zip(self.hidden, self.hidden_activations):
      h = HIDDEN_ACTIVATIONS[activation](layer(h))
    return OUTPUT_ACTIVATIONS[self.output_activation](self.output(h))


class DeconvGenerator(nnx.Module):
  """The paper's convolutional CIFAR-10 generator: dense layers, then one transposed convolution.

  z [batch, latent_dim] → hidden dense layers (8000 ReLU, 8000 sigmoid in the
  paper) → reshape to a [10, 10, 80] feature map → 5×5 transposed convolution
  with stride 3 ("deconvolution") → [32, 32, 3] → sigmoid, flattened to
  [batch, 3072]. Weights U(±init_range). The last hidden width must equal the
  feature map's size.
  """

  def __init__(self, latent_dim: int, hidden_dims: Sequence[int], image_shape: Sequence[int] = (32, 32, 3), *,
               hidden_activations: Sequence[str] | None = None, feature_map: Sequence[int] = (10, 10, 80),
               kernel: int = 5, stride: int = 3, init_range: float | None = 0.05, rngs: nnx.Rngs):
    if hidden_dims[-1] != math.prod(feature_map):
      raise ValueError(f'the last hidden width {hidden_dims[-1]} must equal the feature map size '
                       f'{math.prod(feature_map)} of {tuple(feature_map)}')
    height = (feature_map[0] - 1) * stride + kernel
    if (height, height, image_shape[2]) != tuple(image_shape):
      raise ValueError(f'a {kernel}×{kernel} stride-{stride} deconvolution of {tuple(feature_map)} gives '
                       f'{(height, height, image_shape[2])}, not image_shape={tuple(image_shape)}')
    self.dense = MLPGenerator(latent_dim, hidden_dims[:-1], hidden_dims[-1], hidden_activations=(
        hidden_activations or ['relu'] * len(hidden_dims))[:-1], output_activation='identity',
                              init_range=init_range, rngs=rngs)
    self.last_activation = _check_activations(hidden_activations or ['relu'] * len(hidden_dims), hidden_dims)[-1]
    kwargs = {} if init_range is None else {'kernel_init': uniform_init(init_range)}
    self.deconv = nnx.ConvTranspose(feature_map[2], image_shape[2], (kernel, kernel), (stride, stride),
                                    padding='VALID', rngs=rngs, **kwargs)
    self.feature_map = tuple(feature_map)

  def __call__(self, z: jax.Array) -> jax.Array:
    h = HIDDEN_ACTIVATIONS[self.last_activation](self.dense(z))
    images = self.deconv(h.reshape(h.shape[:-1] + self.feature_map))
    return jax.nn.sigmoid(images).reshape(z.shape[:-1] + (-1,))


class BatchNorm(nnx.Module):
  """Batch normalisation over the batch axis, its statistics over the *global* batch under pmap/shard_map.

  As Blocks' ``BatchNormalization`` (PacGAN's generator): in training
  (``training=True``) h [batch, features] becomes (h − μ)/s · scale + offset
  with the batch's mean μ and s = √(σ² + ε), σ² the biased variance. With
  ``axis_name`` both are ``lax.pmean``-ed over that device axis in two passes
  (the mean, then the mean squared deviation from it), which equals the
  statistics of the whole batch when every device holds as many examples.
  The running averages of μ and s move towards them by ``update_weight``:
  μ̄ ← (1 − w) μ̄ + w μ, s̄ ← (1 − w) s̄ + w s. Sampling (``training=False``)
  uses μ̄ and s̄. The running averages are ``nnx.BatchStat`` variables:
  state, not parameters.
  """

  def __init__(self, features: int, *, update_weight: float = 0.05, epsilon: float = 1e-4):
    self.scale = nnx.Param(jnp.ones((features,), jnp.float32))
    self.offset = nnx.Param(jnp.zeros((features,), jnp.float32))
    self.running_mean = nnx.BatchStat(jnp.zeros((features,), jnp.float32))
    self.running_std = nnx.BatchStat(jnp.ones((features,), jnp.float32))
    self.update_weight, self.epsilon = update_weight, epsilon

  def __call__(self, h: jax.Array, *, training: bool, axis_name: str | None = None) -> jax.Array:
    if training:
      mean = _global_mean(jnp.mean(h, axis=0), axis_name)
      std = jnp.sqrt(_global_mean(jnp.mean(jnp.square(h - mean), axis=0), axis_name) + self.epsilon)
      w = self.update_weight
      self.running_mean[...] = (1.0 - w) * self.running_mean[...] + w * lax.stop_gradient(mean)
      self.running_std[...] = (1.0 - w) * self.running_std[...] + w * lax.stop_gradient(std)
    else:
      mean, std = self.running_mean[...], self.running_std[...]
    return (h - mean) / std * self.scale[...] + self.offset[...]


def _global_mean(local_mean: jax.Array, axis_name: str | None) -> jax.Array:
  return local_mean if axis_name is None else lax.pmean(local_mean, axis_name)


class BatchNormMLPGenerator(nnx.Module):
  """G with batch norm: z [batch, latent_dim] → n × [Linear without bias → BatchNorm → ReLU] → Linear → x.

  PacGAN's generator for the 2-D mixtures is
  ``BatchNormMLPGenerator(2, (400,) * 4, 2)``: weights N(0, 0.02²) (the
  default ``init_range``), output bias 0, identity output. It carries state (the
  running averages): split it with ``as_pure_generator``.
  """

  def __init__(self, latent_dim: int, hidden_dims: Sequence[int], output_dim: int, *,
               output_activation: str = 'identity', init_range: InitRange = nnx.initializers.normal(0.02),
               update_weight: float = 0.05, rngs: nnx.Rngs):
    if output_activation not in OUTPUT_ACTIVATIONS:
      raise ValueError(f'output_activation={output_activation!r}; allowed: {sorted(OUTPUT_ACTIVATIONS)}')
    dims = [latent_dim, *hidden_dims]
    self.hidden = nnx.List([nnx.Linear(a, b, use_bias=False, rngs=rngs, **_kernel_init(init_range))
                            for a, b in zip(dims[:-1], dims[1:])])
    self.norms = nnx.List([BatchNorm(b, update_weight=update_weight) for b in hidden_dims])
    self.output = _linear(dims[-1], output_dim, init_range, rngs)
    self.output_activation = output_activation

  def __call__(self, z: jax.Array, *, training: bool, axis_name: str | None = None) -> jax.Array:
    h = z
    for layer, norm in zip(self.hidden, self.norms):
      h = jax.nn.relu(norm(layer(h), training=training, axis_name=axis_name))
    return OUTPUT_ACTIVATIONS[self.output_activation](self.output(h))


class Maxout(nnx.Module):
  """Maxout layer: the max over ``pieces`` affine maps for each of ``units`` outputs."""

  def __init__(self, in_dim: int, units: int, pieces: int, init_range: float | None, rngs: nnx.Rngs):
    self.linear = _linear(in_dim, units * pieces, init_range, rngs)
    self.units, self.pieces = units, pieces

  def __call__(self, x: jax.Array) -> jax.Array:
    """x [..., in_dim] → [..., units]."""
    h = self.linear(x).reshape(x.shape[:-1] + (self.units, self.pieces))
    return jnp.max(h, axis=-1)


class MaxoutDiscriminator(nnx.Module):
  """D: x [batch, input_dim] → logit [batch], maxout layers with dropout.

  The paper's MNIST discriminator is ``MaxoutDiscriminator(784)``: dropout on
  the input (keep 0.8) → maxout 240 units × 5 pieces → dropout (keep 0.5) →
  maxout 240 × 5 → dropout (keep 0.5) → one sigmoid unit, all weights
  U(±0.005). Dropout is inverted (kept units scaled by 1/keep), as pylearn2's
  ``input_scales`` of 1.25 and 2. The last ``unmasked_inputs`` inputs skip
  the input dropout: a conditional D's one-hot label (``priors``), so that D
  always sees which class it judges.
  """

  def __init__(self, input_dim: int, hidden_units: Sequence[int] = (240, 240), pieces: int = 5, *,
               input_keep: float = 0.8, hidden_keep: float = 0.5,
               init_range: float | None = 0.005, unmasked_inputs: int = 0, rngs: nnx.Rngs):
    for name, keep in (('input_keep', input_keep), ('hidden_keep', hidden_keep)):
      if not 0.0 < keep <= 1.0:
        raise ValueError(f'{name}={keep!r} must be a keep probability in (0, 1]')
    if not 0 <= unmasked_inputs < input_dim:
      raise ValueError(f'unmasked_inputs={unmasked_inputs!r} must be in [0, input_dim={input_dim})')
    self.unmasked_inputs = unmasked_inputs
    dims = [input_dim, *hidden_units]
    self.hidden = nnx.List([Maxout(a, b, pieces, init_range, rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.output = _linear(dims[-1], 1, init_range, rngs)
    keeps = [input_keep] + [hidden_keep] * len(hidden_units)
    self.dropouts = nnx.List([nnx.Dropout(rate=1.0 - keep) for keep in keeps])

  def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
    keys = [None] * len(self.dropouts) if dropout_key is None else jax.random.split(dropout_key, len(self.dropouts))
    h = x
    for index, (layer, dropout, key) in enumerate(zip([*self.hidden, self.output], self.dropouts, keys)):
      if index == 0 and self.unmasked_inputs:
        split = h.shape[-1] - self.unmasked_inputs
        h = jnp.concatenate([dropout(h[..., :split], rngs=key, deterministic=key is None), h[..., split:]], axis=-1)
      else:
        h = dropout(h, rngs=key, deterministic=key is None)
      h = layer(h)
    return h[..., 0]


class ConvMaxoutDiscriminator(nnx.Module):
  """The paper's convolutional CIFAR-10 discriminator: maxout convolutions, then dense maxout.

  x [batch, H·W·C] (flattened images in [0, 1]) → for each conv layer: dropout
  (keep ``input_keep`` before the first layer, ``hidden_keep`` after) →
  convolution to channels × conv_pieces maps (padding ``pad``) → max over
  pieces → max pooling → then dense maxout layers with dropout → one logit
  [batch]. Paper: channels (32, 32, 192), kernels (8, 8, 5), pads (4, 3, 3),
  pools 4/2, 4/2, 2/2, 2 pieces; one dense maxout layer of 500 × 5; U(±0.005).
  """

  def __init__(self, image_shape: Sequence[int], conv_channels: Sequence[int] = (32, 32, 192),
               kernels: Sequence[int] = (8, 8, 5), pads: Sequence[int] = (4, 3, 3),
               pools: Sequence[tuple[int, int]] = ((4, 2), (4, 2), (2, 2)), conv_pieces: int = 2,
               hidden_units: Sequence[int] = (500,), pieces: int = 5, *, input_keep: float = 0.8,
               hidden_keep: float = 0.5, init_range: float | None = 0.005, rngs: nnx.Rngs):
    if not len(conv_channels) == len(kernels) == len(pads) == len(pools):
      raise ValueError('conv_channels, kernels, pads and pools must have one entry per conv layer')
    kwargs = {} if init_range is None else {'kernel_init': uniform_init(init_range)}
    if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
      raise ValueError(f'image_shape={tuple(image_shape)} must be square images (H, H, C)')
    in_channels, size = image_shape[2], image_shape[0]
    convs = []
    for layer, (channels, kernel, pad, (pool, stride)) in enumerate(zip(conv_channels, kernels, pads, pools)):
      convs.append(nnx.Conv(in_channels, channels * conv_pieces, (kernel, kernel), padding=((pad, pad), (pad, pad)),
                            rngs=rngs, **kwargs))
      size = (size + 2 * pad - kernel + 1 - pool) // stride + 1
      if size < 1:
        raise ValueError(f'{image_shape[0]}×{image_shape[1]} images are too small: conv layer {layer} leaves '
                         'no pixels after pooling')
      in_channels = channels
    self.convs = nnx.List(convs)
    dims = [size * size * in_channels, *hidden_units]
    self.dense = nnx.List([Maxout(a, b, pieces, init_range, rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.output = _linear(dims[-1], 1, init_range, rngs)
    keeps = [input_keep] + [hidden_keep] * (len(conv_channels) + len(hidden_units))
    self.dropouts = nnx.List([nnx.Dropout(rate=1.0 - keep) for keep in keeps])
    self.image_shape, self.conv_channels, self.conv_pieces = tuple(image_shape), tuple(conv_channels), conv_pieces
    self.pools = tuple(tuple(p) for p in pools)

  def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
    n = len(self.dropouts)
    keys = iter([None] * n if dropout_key is None else jax.random.split(dropout_key, n))
    dropouts = iter(self.dropouts)

    def drop(h):  # the next layer's input dropout, with its own key
      key = next(keys)
      return next(dropouts)(h, rngs=key, deterministic=key is None)

    h = x.reshape(x.shape[:-1] + self.image_shape)
    for conv, channels, (pool, stride) in zip(self.convs, self.conv_channels, self.pools):
      h = conv(drop(h))
      h = jnp.max(h.reshape(h.shape[:-1] + (channels, self.conv_pieces)), axis=-1)
      h = nnx.max_pool(h, (pool, pool), strides=(stride, stride), padding='VALID')
    h = h.reshape(h.shape[:-3] + (-1,))
    for layer in self.dense:
      h = layer(drop(h))
    return self.output(drop(h))[..., 0]


class MLPDiscriminator(nnx.Module):
  """Toy D: x [batch, input_dim] → hidden layers (ReLU unless ``hidden_activations`` says) → logit [batch].

  No dropout. With leaky ReLUs no unit can die: where G's samples wander
  outside the data, a ReLU D can be constant (every unit of a layer off
  there) and G gets no gradient at all.
  """

  def __init__(self, input_dim: int, hidden_dims: Sequence[int], *,
               hidden_activations: Sequence[str] | None = None, init_range: float | None = None, rngs: nnx.Rngs):
    self.hidden_activations = _check_activations(hidden_activations or ['relu'] * len(hidden_dims), hidden_dims)
    dims = [input_dim, *hidden_dims]
    self.hidden = nnx.List([_linear(a, b, init_range, rngs) for a, b in zip(dims[:-1], dims[1:])])
    self.output = _linear(dims[-1], 1, init_range, rngs)

  def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
    del dropout_key  # this discriminator has no dropout
    h = x
    for layer, activation in zip(self.hidden, self.hidden_activations):
      h = HIDDEN_ACTIVATIONS[activation](layer(h))
    return self.output(h)[..., 0]


def as_pure_function(module: nnx.Module) -> tuple[Callable[..., jax.Array], Params]:
  """Splits ``module`` into ``(apply, params)``.

  ``apply(params, *args)`` rebuilds the module from ``params`` (a nested dict
  of arrays) and calls it on ``args``; it is pure and safe under jit, grad,
  vmap, pmap and shard_map. ``params`` is what the optimisers and checkpoints
  see.
  """
  graphdef, state = nnx.split(module)

  def apply(params: Params, *args):
    return nnx.merge(graphdef, params)(*args)

  return apply, nnx.to_pure_dict(state)


def in_matmul_precision(apply: Callable, precision: str) -> Callable:
  """``apply`` with the float32 matrix products it traces (and their gradients) at ``precision``.

  ``precision``: one of MATMUL_PRECISIONS; 'default' returns ``apply`` itself
  (JAX's default, or whatever ``jax.default_matmul_precision`` says around the call).
  """
  if precision == 'default':
    return apply

  def apply_in_precision(*args, **kwargs):
    with jax.default_matmul_precision(precision):
      return apply(*args, **kwargs)
  return apply_in_precision


@dataclasses.dataclass(frozen=True)
class PureGenerator:
  """A generator with state (batch-norm running averages) as pure functions.

  Attributes:
    sample: ``(variables, z) -> x``, sampling mode (running averages), with
      ``variables = {'params': params, 'state': state}``.
    train: ``(params, state, z, axis_name) -> (x, new_state)``, training mode:
      batch statistics over the global batch (``axis_name``: the device axis,
      or None on one device) and the running averages moved towards them.
    params: the trained parameters (nested dict of arrays).
    state: the variables that are not trained by gradients (nested dict).
  """
  sample: Callable[..., jax.Array]
  train: Callable[..., tuple[jax.Array, Params]]
  params: Params
  state: Params


def as_pure_generator(module: nnx.Module) -> PureGenerator:
  """Splits a generator whose ``__call__(z, *, training, axis_name)`` updates ``nnx.BatchStat`` state."""
  graphdef, params, state = nnx.split(module, nnx.Param, nnx.BatchStat)

  def sample(variables: Params, z: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, variables['params'], variables['state'])(z, training=False)

  def train(params: Params, state: Params, z: jax.Array, axis_name: str | None) -> tuple[jax.Array, Params]:
    generator = nnx.merge(graphdef, params, state)
    x = generator(z, training=True, axis_name=axis_name)
    return x, nnx.to_pure_dict(nnx.state(generator, nnx.BatchStat))

  return PureGenerator(sample, train, nnx.to_pure_dict(params), nnx.to_pure_dict(state))
