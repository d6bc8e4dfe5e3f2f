"""The Colab notebooks run top to bottom (in small mode), and are committed without outputs.

Each notebook runs in a fresh IPython kernel started with this interpreter
(``sys.executable``, not whichever ``python3`` kernelspec happens to be
installed), with ``GAN_JAX_NOTEBOOK_SMALL=1``. The kernel inherits this
process's environment, so it sees the 8 forced CPU devices of conftest.py:
the quickstart's pmap training and the pmap part of bring_your_own_model.ipynb
really run over 8 devices, as they would on an 8-core TPU. The quickstart
reads small synthetic MNIST-format IDX files (``GAN_JAX_MNIST_DATASET``)
instead of downloading MNIST, and every workdir lands in pytest's tmp_path.
"""

import json
import os
import pathlib
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from idx_files import write_mnist_idx

COLAB = pathlib.Path(__file__).resolve().parents[1] / 'colab'
NOTEBOOKS = ('bring_your_own_model', 'quickstart', 'theory')
KERNEL_NAME = 'gan_jax_tests'
CELL_TIMEOUT_S = 300


def _read(name: str) -> nbformat.NotebookNode:
  return nbformat.read(COLAB / f'{name}.ipynb', as_version=4)


def _kernel_manager(directory: pathlib.Path) -> AsyncKernelManager:
  """A kernel manager whose only kernelspec runs ipykernel with this interpreter."""
  spec_dir = directory / KERNEL_NAME
  spec_dir.mkdir(parents=True)
  spec = {'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
          'display_name': 'gan_jax tests', 'language': 'python'}
  (spec_dir / 'kernel.json').write_text(json.dumps(spec))
  specs = KernelSpecManager(kernel_dirs=[str(directory)], ensure_native_kernel=False)
  return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def test_colab_holds_exactly_the_tested_notebooks():
  assert sorted(path.stem for path in COLAB.glob('*.ipynb')) == sorted(NOTEBOOKS)


@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
  notebook = _read(name)
  nbformat.validate(notebook)
  code_cells = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert code_cells
  assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells)


@pytest.mark.slow
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_small_mode(name, tmp_path):
  idx_dir = tmp_path / 'mnist_idx'
  write_mnist_idx(idx_dir, num_train=240, num_test=24)
  work = tmp_path / 'work'
  work.mkdir()
  env = dict(os.environ, GAN_JAX_NOTEBOOK_SMALL='1', GAN_JAX_MNIST_DATASET=f'idx:{idx_dir}',
             TMPDIR=str(work))
  notebook = _read(name)
  client = NotebookClient(notebook, km=_kernel_manager(tmp_path / 'kernels'), timeout=CELL_TIMEOUT_S,
                          resources={'metadata': {'path': str(work)}})
  # cleanup_kc: shut the kernel down afterwards (nbclient leaves kernels of a km it was given running).
  client.execute(env=env, cleanup_kc=True)  # raises CellExecutionError, naming the cell, on the first error
  outputs = [output for cell in notebook.cells if cell.cell_type == 'code' for output in cell.outputs]
  assert not [output for output in outputs if output.output_type == 'error']
  assert any(output.output_type == 'display_data' and 'image/png' in output.get('data', {})
             for output in outputs), 'no figure or image was displayed'
  if name == 'quickstart':  # its run went to a temporary workdir (TMPDIR), and resumed once
    assert sorted(path.name for path in work.glob('gan_jax_mnist_*/samples/*.png')) == [
        'step_0000002.png', 'step_0000004.png']
