"""Checks of the Markdown docs, without running anything they describe.

Commands: every ``python -m MODULE …`` in a fenced block or an inline code
span names a module of this repository, flags that module defines (read from
its source and the repository modules it imports, with ``ast``: importing
two CLI modules in one process would define absl flags twice) and config
fields of the schema. Links: every relative link or image target is a file
or folder of the repository, and an anchor into a Markdown file names one
of its headings. Each problem is one line, ``FILE:LINE: …``.
"""

import ast
import dataclasses
import functools
import importlib.util
import pathlib
import re
import shlex

REPO = pathlib.Path(__file__).resolve().parents[1]
SCHEMA = REPO / 'gan_jax' / 'configs' / 'base.py'
UNCHECKED_MODULES = frozenset({'pytest', 'pip', 'venv'})  # other projects' tools; their flags are theirs
ABSL_BUILTIN_FLAGS = frozenset({'help', 'helpfull', 'helpshort', 'helpxml', 'flagfile', 'undefok', 'logtostderr',
                                'alsologtostderr', 'verbosity', 'v', 'log_dir', 'stderrthreshold'})
BOOL_DEFINERS = frozenset({'DEFINE_bool', 'DEFINE_boolean'})
CONFIG_DEFINERS = frozenset({'DEFINE_config_file', 'DEFINE_config_dict', 'DEFINE_config_dataclass'})
_COMMAND = re.compile(r'\bpython3?\s+-m\s+([\w.]+)(.*?)(?=\bpython3?\s+-m\s|$)')
_COMMAND_END = re.compile(r'\s(?:&&|\|\||;|\|)\s')
_INLINE_CODE = re.compile(r'(?<!`)`([^`]+)`(?!`)')
_LINK = re.compile(r'\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')


@dataclasses.dataclass(frozen=True)
class Command:
  """One ``python -m`` command of a doc: where it is, the module and the arguments after it."""
  where: str
  module: str
  args: tuple[str, ...]


def doc_files() -> list[pathlib.Path]:
  """README.md and every Markdown page under docs/."""
  return [REPO / 'README.md', *sorted((REPO / 'docs').rglob('*.md'))]


def relative(path: pathlib.Path) -> str:
  """The path as the problems name it: from the repository root where it is inside."""
  return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def split_fences(text: str) -> tuple[list[tuple[int, str]], str]:
  """The fenced blocks as (first line number, body), and the prose with their lines blanked (numbers kept)."""
  blocks, prose, body, start = [], [], None, 0
  for number, line in enumerate(text.splitlines(), 1):
    if line.lstrip().startswith('```'):
      if body is None:
        body, start = [], number + 1
      else:
        blocks.append((start, '\n'.join(body)))
        body = None
      prose.append('')
    elif body is not None:
      body.append(line)
      prose.append('')
    else:
      prose.append(line)
  return blocks, '\n'.join(prose)


def logical_lines(start: int, block: str) -> list[tuple[int, str]]:
  """A block's lines with ``\\``-continuations joined, each with the number of its first line."""
  joined, pending, first = [], '', start
  for number, line in enumerate(block.splitlines(), start):
    if not pending:
      first = number
    if line.rstrip().endswith('\\'):
      pending += line.rstrip()[:-1] + ' '
    else:
      joined.append((first, pending + line))
      pending = ''
  if pending:
    joined.append((first, pending))
  return joined


def code_snippets(text: str) -> list[tuple[int, str]]:
  """(line number, code) for every logical line of a fenced block and every inline code span."""
  blocks, prose = split_fences(text)
  snippets = [line for start, block in blocks for line in logical_lines(start, block)]
  for match in _INLINE_CODE.finditer(prose):
    snippets.append((prose.count('\n', 0, match.start()) + 1, ' '.join(match.group(1).split())))
  return sorted(snippets, key=lambda snippet: snippet[0])


def split_args(rest: str) -> tuple[str, ...]:
  """The arguments of one command: up to ``&&``, ``;`` or a pipe, without comments, quotes or ``[ ]``."""
  rest = _COMMAND_END.split(rest, maxsplit=1)[0]
  try:
    words = shlex.split(rest, comments=True)
  except ValueError:  # an unbalanced quote in prose: fall back on whitespace
    words = rest.split('#', 1)[0].split()
  return tuple(word.strip('[]') for word in words if word.strip('[]'))


def commands(path: pathlib.Path) -> list[Command]:
  """Every ``python -m`` command in the doc at ``path``."""
  found = []
  for number, code in code_snippets(path.read_text()):
    for match in _COMMAND.finditer(code):
      found.append(Command(f'{relative(path)}:{number}', match.group(1), split_args(match.group(2))))
  return found


def module_file(module: str) -> pathlib.Path | None:
  """The repository file of a dotted module name (module.py or package/__init__.py), or None."""
  base = REPO.joinpath(*module.split('.'))
  for candidate in (base.with_suffix('.py'), base / '__init__.py'):
    if candidate.is_file():
      return candidate
  return None


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> set[str]:
  """Dotted names this module imports (and the packages above them), resolving relative imports."""
  names = set()
  package = module if is_package else module.rpartition('.')[0]
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        parent = package.split('.')[:len(package.split('.')) - node.level + 1]
        base = '.'.join(part for part in [*parent, base] if part)
      names.add(base)
      names.update(f'{base}.{alias.name}' for alias in node.names)
  return {'.'.join(name.split('.')[:i]) for name in names if name for i in range(1, name.count('.') + 2)}


@functools.lru_cache(maxsize=None)
def module_closure(module: str) -> tuple[ast.Module, ...]:
  """The parsed sources of ``module`` and every repository module it imports, directly or not."""
  seen, pending, trees = set(), [module], []
  while pending:
    name = pending.pop()
    path = module_file(name)
    if name in seen or path is None:
      continue
    seen.add(name)
    tree = ast.parse(path.read_text(), filename=str(path))
    trees.append(tree)
    pending.extend(imported_modules(tree, name, path.name == '__init__.py'))
  return tuple(trees)


def _called_name(call: ast.Call) -> str:
  """The called function's own name: ``DEFINE_string`` for ``flags.DEFINE_string(…)``."""
  function = call.func
  return function.attr if isinstance(function, ast.Attribute) else getattr(function, 'id', '')


def _definer_kind(name: str) -> str:
  """What a flag defined by the absl function ``name`` accepts: a bool (--noX too), a config, a value."""
  return 'bool' if name in BOOL_DEFINERS else 'config' if name in CONFIG_DEFINERS else 'value'


def flag_wrappers(trees: tuple[ast.Module, ...]) -> dict[str, str]:
  """Functions that define a flag named by their first parameter (like cli.define_config_file) → its kind."""
  wrappers = {}
  for tree in trees:
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)):
      if not function.args.args:
        continue
      first = function.args.args[0].arg
      for call in (node for node in ast.walk(function) if isinstance(node, ast.Call)):
        name = _called_name(call)
        if name.startswith('DEFINE_') and call.args and getattr(call.args[0], 'id', None) == first:
          wrappers[function.name] = _definer_kind(name)
  return wrappers


@functools.lru_cache(maxsize=None)
def defined_flags(module: str) -> dict[str, str]:
  """Flag name → kind ('bool', 'config' or 'value') for every flag ``module`` and its imports define."""
  trees = module_closure(module)
  wrappers = flag_wrappers(trees)
  flags = {}
  for tree in trees:
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
      name = _called_name(call)
      first = call.args[0] if call.args else None
      if isinstance(first, ast.Constant) and isinstance(first.value, str):
        if name.startswith('DEFINE_'):
          flags[first.value] = _definer_kind(name)
        elif name in wrappers:
          flags[first.value] = wrappers[name]
  return flags


def _flatten(config, prefix: str = '') -> set[str]:
  """A ConfigDict's field names, nested ones as ``outer.inner``."""
  fields = set()
  for name, value in config.items():
    fields.add(prefix + name)
    if hasattr(value, 'items'):
      fields |= _flatten(value, f'{prefix}{name}.')
  return fields


@functools.lru_cache(maxsize=None)
def config_fields(path: pathlib.Path) -> frozenset[str]:
  """The fields (dotted where nested) of the config that ``get_config()`` in the file at ``path`` returns."""
  spec = importlib.util.spec_from_file_location(f'_doc_config_{path.stem}', path)
  loaded = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(loaded)
  return frozenset(_flatten(loaded.get_config()))


def is_placeholder(word: str) -> bool:
  """DIR, FIELD, <preset>, …: words that stand for something the reader fills in."""
  return bool(re.search(r'<[^>]*>|…|\.\.\.|\*', word)) or bool(re.fullmatch(r'[A-Z][A-Z0-9_]*', word))


def flag_values(args: tuple[str, ...], flag: str) -> list[str]:
  """The values given to ``--flag`` (``--flag=V`` or ``--flag V``) in ``args``."""
  values = []
  for i, word in enumerate(args):
    if word.startswith(f'--{flag}='):
      values.append(word.split('=', 1)[1])
    elif word == f'--{flag}' and i + 1 < len(args):
      values.append(args[i + 1])
  return values


def named_config(command: Command, config_flag: str) -> pathlib.Path | None:
  """The config file a command gives its config flag, unless that is a placeholder."""
  named = [value for value in flag_values(command.args, config_flag) if not is_placeholder(value)]
  return REPO / named[0] if named else None


def missing_configs(command: Command, flags: dict[str, str]) -> list[str]:
  """Config files the command names that are not in the repository."""
  missing = []
  for flag in (name for name, kind in flags.items() if kind == 'config'):
    path = named_config(command, flag)
    if path is not None and not path.is_file():
      missing.append(f'{command.where}: `--{flag} {relative(path)}`: no such config file')
  return missing


def schema_of(command: Command, config_flag: str) -> frozenset[str]:
  """The fields of the config a command names (the schema's where it names none, or a missing one)."""
  path = named_config(command, config_flag)
  return config_fields(path if path is not None and path.is_file() else SCHEMA)


def flag_problem(command: Command, word: str, flags: dict[str, str]) -> str | None:
  """What is wrong with one ``--flag[=value]`` word of ``command``, or None."""
  name = word[2:].split('=', 1)[0]
  head, _, field = name.partition('.')
  if field:
    if flags.get(head) != 'config':
      return f'{command.where}: `{word}`: {command.module} defines no config flag --{head}'
    if is_placeholder(field):
      return None
    return None if field in schema_of(command, head) else f'{command.where}: `{word}`: the config has no field {field!r}'
  known = name in flags or name in ABSL_BUILTIN_FLAGS or flags.get(name.removeprefix('no')) == 'bool'
  return None if known or is_placeholder(name) else f'{command.where}: `{word}`: {command.module} defines no flag --{name}'


def command_problems(command: Command) -> list[str]:
  """Problems of one command: a module that is not in the repository, unknown flags or config fields."""
  if command.module.split('.')[0] in UNCHECKED_MODULES:
    return []
  if module_file(command.module) is None:
    return [f'{command.where}: `python -m {command.module}`: no module {command.module} in the repository']
  flags = defined_flags(command.module)
  problems = [flag_problem(command, word, flags) for word in command.args if word.startswith('--') and word != '--']
  return missing_configs(command, flags) + [problem for problem in problems if problem]


def link_targets(path: pathlib.Path) -> list[tuple[int, str]]:
  """(line number, target) of every Markdown link and image outside code in the doc at ``path``."""
  _, prose = split_fences(path.read_text())
  prose = _INLINE_CODE.sub(lambda match: ' ' * len(match.group(0)), prose)
  return [(prose.count('\n', 0, match.start()) + 1, match.group(1)) for match in _LINK.finditer(prose)]


def heading_anchors(path: pathlib.Path) -> set[str]:
  """The anchors GitHub makes of a Markdown file's headings: lower case, punctuation dropped, spaces to -."""
  _, prose = split_fences(path.read_text())
  headings = re.findall(r'^#{1,6}\s+(.*?)\s*#*$', prose, flags=re.M)
  return {re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-') for heading in headings}


def link_problems(path: pathlib.Path) -> list[str]:
  """Relative link and image targets of the doc at ``path`` that are not in the repository, or bad anchors."""
  problems = []
  for number, target in link_targets(path):
    if re.match(r'[a-z][a-z0-9+.-]*:', target):
      continue  # a URL: https:, mailto:
    file, _, anchor = target.partition('#')
    resolved = (path.parent / file).resolve() if file else path
    if not resolved.exists():
      problems.append(f'{relative(path)}:{number}: link `{target}` does not resolve ({resolved} is missing)')
    elif anchor and resolved.suffix == '.md' and anchor not in heading_anchors(resolved):
      problems.append(f'{relative(path)}:{number}: link `{target}`: {relative(resolved)} has no heading #{anchor}')
  return problems


def result_path_problems(path: pathlib.Path) -> list[str]:
  """Inline code paths under docs/ (globs allowed) that match no file of the repository."""
  problems = []
  for number, code in code_snippets(path.read_text()):
    for word in code.split():
      word = word.strip('(),;:')
      if word.startswith('docs/') and not any(REPO.glob(word.rstrip('/'))):
        problems.append(f'{relative(path)}:{number}: `{word}` matches no file in the repository')
  return problems
