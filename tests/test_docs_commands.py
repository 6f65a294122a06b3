"""Every command the README and docs/*.md show is run by a test.

The code blocks of README.md and docs/*.md are read for lines that start with `make`,
`python -m ops` or `.venv/bin/python -m ops` (a `$ ` prompt allowed). Each one is either

- run here, when it needs no engine (`RUN_HERE`): in the docs' order, in one copy of the project
  (so nothing in the repository changes), with the repo's venv, no Pulumi CLI or cluster binary
  on PATH, the copy's own file backend holding three recorded updates of the `local` stack
  (`tests/ops/fixtures/events-local-*.jsonl`), and the files the docs write in a block that starts
  with `# <name>`. To stay fast, one interpreter imports the commands once and forks a child per
  command line, which calls ops' main() as `python -m ops` does. It must exit 0, or the code its
  comment says (`# exit 2`); the lines a `$ ` command is shown printing must be among the lines
  it prints;
- or run by an engine test (`ENGINE`: command prefix -> the tests/engine module that runs it, and
  what that module, or a tests/support module it imports, must contain to show that it does);
- or a `make` goal: the goal must exist, and every `ops` command its recipe runs (`make -n`) must
  itself be run here or by an engine test; `make test` is what CI runs (.ci/run).

A new command in the docs that is none of these fails `test_doc_command`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.markdown import REPO, Block, blocks, pages, relative

PREFIX = re.compile(r"^(?:\$\s+)?(make|python -m ops|\.venv/bin/python -m ops)(?=\s|$)")
EXIT_COMMENT = re.compile(r"\bexit (?:code |status )?(\d+)\b")
WRITTEN_FILE = re.compile(r"^#\s+([\w./-]+\.(?:ya?ml|json))\s*$")


@dataclass(frozen=True)
class DocCommand:
    page: Path
    line: int
    text: str  # as written, without the prompt
    argv: tuple[str, ...]  # `python`, `-m`, `ops`, ... or `make`, ...
    expected_exit: int
    expected_output: tuple[str, ...]

    @property
    def words(self) -> tuple[str, ...]:
        """`ops <args>` or `make <args>`."""
        if self.argv[0] == "make":
            return self.argv
        return ("ops", *self.argv[3:])

    @property
    def where(self) -> str:
        return f"{relative(self.page)}:{self.line}"


def logical_lines(block: Block) -> Iterator[tuple[int, str]]:
    """The block's lines with backslash continuations joined, with their line numbers."""
    pending: list[str] = []
    start = 0
    for offset, line in enumerate(block.lines):
        if not pending:
            start = block.line + offset
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        pending.append(line)
        yield start, pending[0] if len(pending) == 1 else " ".join(p.strip() for p in pending)
        pending = []
    if pending:
        yield start, " ".join(part.strip() for part in pending)


def commands_of(block: Block) -> Iterator[DocCommand]:
    lines = list(logical_lines(block))
    for index, (number, line) in enumerate(lines):
        if not PREFIX.match(line.strip()):
            continue
        prompted = line.strip().startswith("$")
        text = re.sub(r"^\$\s+", "", line.strip())
        lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        argv = tuple(lexer)
        comment = text.partition(" #")[2]
        exit_code = EXIT_COMMENT.search(comment)
        output: list[str] = []
        if prompted:
            for _, following in lines[index + 1 :]:
                if following.strip().startswith("$"):
                    break
                if following.strip():
                    output.append(following.rstrip())
        yield DocCommand(
            page=block.page,
            line=number,
            text=text,
            argv=argv,
            expected_exit=int(exit_code.group(1)) if exit_code else 0,
            expected_output=tuple(output),
        )


def doc_commands() -> list[DocCommand]:
    return [command for page in pages() for block in blocks(page) for command in commands_of(block)]


def written_files() -> dict[str, str]:
    """The files the docs show, in a block whose first line is `# <name>`."""
    files = {}
    for page in pages():
        for block in blocks(page):
            named = WRITTEN_FILE.match(block.lines[0]) if block.lines else None
            if named:
                files[named.group(1)] = "\n".join(block.lines[1:]).rstrip() + "\n"
    return files


# --- what runs here -------------------------------------------------------------------------


def has(*options: str) -> Callable[[tuple[str, ...]], bool]:
    return lambda words: any(option in words for option in options)


def prefix(*start: str) -> Callable[[tuple[str, ...]], bool]:
    return lambda words: words[: len(start)] == start


# Commands that need neither the Pulumi CLI nor a cluster: what makes them so.
RUN_HERE: dict[str, Callable[[tuple[str, ...]], bool]] = {
    "help of any command": has("--help", "-h"),
    "ops plan: the program under the mock runtime": prefix("ops", "plan"),
    "ops pipelines: files from the stack file": prefix("ops", "pipelines"),
    "--from-json: a saved preview or history": has("--from-json"),
    "ops timeline, logs, calibrate: the recorded updates": lambda w: (
        w[:2] in {("ops", "timeline"), ("ops", "logs"), ("ops", "calibrate")}
    ),
    "ops local status: reads .clusters/": prefix("ops", "local", "status"),
}


@dataclass(frozen=True)
class EngineTest:
    module: str  # a tests/engine module
    evidence: str  # a regular expression it (or a tests/support module it imports) must match


# Command prefix (longest wins) -> the engine test that runs it.
ENGINE: dict[tuple[str, ...], EngineTest] = {
    ("ops", "up"): EngineTest("tests/engine/test_path_failures.py", r'ops\("up", "--stack"'),
    ("ops", "up", "--env"): EngineTest(
        "tests/engine/test_region_stacks.py",
        r'ops\(\s*"up", "--env", \w+, "--layout", "per-region"',
    ),
    ("ops", "release"): EngineTest(
        "tests/engine/test_service_stacks.py", r'"release", "--env", \w+, "--service"'
    ),
    ("ops", "preview"): EngineTest(
        "tests/engine/test_service_stacks.py", r'"preview", "--stack", service_stack'
    ),
    ("ops", "rollback"): EngineTest(
        "tests/engine/test_cluster_stack.py", r'"rollback", "--stack", \w+, "--to"'
    ),
    ("ops", "history"): EngineTest(
        "tests/engine/test_fault_drills.py", r'ops\("history", "--stack"'
    ),
    ("ops", "logs"): EngineTest("tests/engine/test_path_failures.py", r'"logs", "--stack"'),
    ("ops", "timeline"): EngineTest("tests/engine/test_fault_drills.py", r'"timeline", "--stack"'),
    ("ops", "pipelines"): EngineTest("tests/engine/test_fault_drills.py", r'"pipelines", "--env"'),
    ("ops", "dashboard"): EngineTest(
        "tests/engine/test_dashboard_page.py", r'"-m", "ops", "dashboard", "--stack"'
    ),
    ("ops", "local", "up"): EngineTest(
        "tests/engine/test_local_clusters.py", r'ops\("local", "up"'
    ),
    ("ops", "local", "down"): EngineTest(
        "tests/engine/test_local_clusters.py", r'ops\("local", "down"'
    ),
    ("ops", "local", "delete"): EngineTest(
        "tests/engine/test_local_clusters.py", r'ops\("local", "delete"'
    ),
    ("ops", "local", "status"): EngineTest(
        "tests/engine/test_local_clusters.py", r'ops\("local", "status"'
    ),
}

CI_SCRIPT = REPO / ".ci" / "run"


def longest(table: dict[tuple[str, ...], object], words: tuple[str, ...]) -> tuple[str, ...] | None:
    matches = [key for key in table if words[: len(key)] == key]
    return max(matches, key=len) if matches else None


def runs_here(words: tuple[str, ...]) -> bool:
    return any(rule(words) for rule in RUN_HERE.values())


def engine_evidence(entry: EngineTest) -> str | None:
    """Where the entry's evidence is found (its module or a support module it imports), or None."""
    module = REPO / entry.module
    if not module.exists():
        return None
    text = module.read_text()
    candidates = [module] + [
        REPO / "tests" / "support" / f"{name}.py"
        for name in re.findall(r"^from tests\.support\.(\w+) import", text, re.MULTILINE)
    ]
    for candidate in candidates:
        if candidate.exists() and re.search(entry.evidence, candidate.read_text()):
            return relative(candidate)
    return None


# --- the sandbox the commands run in ----------------------------------------------------------

# What the copy leaves out. __pycache__ is kept: copied with their sources' times, the compiled
# modules stay valid and each command starts faster.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-checkov",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "rendered",
    ".state",
    "out",
    ".clusters",
    ".events",
)
ENGINE_BINARIES = ("pulumi", "kwokctl", "kubectl")


def make_template(root: Path) -> Path:
    """A copy of the working tree (committed or not), its venv linked, the docs' files written and
    the local stack's recorded updates in its file backend."""
    template = root / "template"
    shutil.copytree(REPO, template, ignore=IGNORED, symlinks=True)
    (template / ".venv").symlink_to(REPO / ".venv")
    for name, text in written_files().items():
        (template / name).parent.mkdir(parents=True, exist_ok=True)
        (template / name).write_text(text)
    recorded = template / ".state" / "events" / "local"
    recorded.mkdir(parents=True)
    for number in (1, 2, 3):
        fixture = REPO / "tests" / "ops" / "fixtures" / f"events-local-{number}.jsonl"
        shutil.copy(fixture, recorded / f"{number}.jsonl")
    return template


def sandbox_environment(project: Path) -> dict[str, str]:
    """No engine: PATH without the Pulumi CLI or the clusters' binaries, the copy's backend."""
    path = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not any((Path(folder) / binary).exists() for binary in ENGINE_BINARIES)
    ]
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "DEPLOYPATHS_", "VIRTUAL_ENV"))
    }
    environment.update(
        PATH=os.pathsep.join([str(project / ".venv" / "bin"), *path]),
        PULUMI_BACKEND_URL=f"file://{project / '.state'}",
        PULUMI_CONFIG_PASSPHRASE="deploypaths-docs",
        DEPLOYPATHS_PROJECT_DIR=str(project),
        COLUMNS="100",
    )
    return environment


@dataclass(frozen=True)
class Ran:
    returncode: int
    output: str


# Runs `python -m ops` command lines as that would, one after another in the order the docs show
# them, in one copy of the project, but from one warm interpreter: it imports every command module
# once, then forks a child per command line that calls ops' main() with the output in a file.
# Stdin: {"commands": [[arg, ...], ...], "out": DIR}; stdout: [exit code, ...].
RUNNER = """
import importlib, json, os, sys, threading, traceback
job = json.load(sys.stdin)
from ops import __main__ as ops_main
for name in ops_main.COMMANDS:
    importlib.import_module(f"ops.{name}")
assert threading.active_count() == 1, "a thread runs before the fork"
codes = []
for index, argv in enumerate(job["commands"]):
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            out = os.open(os.path.join(job["out"], f"{index}.txt"), os.O_WRONLY | os.O_CREAT)
            os.dup2(out, 1); os.dup2(out, 2)
            sys.argv = ["python -m ops", *argv]
            try:
                code = int(ops_main.main(argv))
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush(); sys.stderr.flush()
            finally:
                os._exit(code)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
"""


COMMANDS = doc_commands()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[DocCommand, Ran]:
    """Every command that runs here, each distinct one once, in the docs' order."""
    root = tmp_path_factory.mktemp("docs-commands")
    project = make_template(root)
    outputs = root / "outputs"
    outputs.mkdir()
    here = [
        command for command in COMMANDS if command.words[0] == "ops" and runs_here(command.words)
    ]
    distinct = list({command.words: command for command in here})
    job = {"commands": [list(words[1:]) for words in distinct], "out": str(outputs)}
    done = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-c", RUNNER],
        cwd=project,
        env=sandbox_environment(project),
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"the commands' runner failed:\n{done.stdout}{done.stderr}"
    codes = json.loads(done.stdout)
    by_words = {
        words: Ran(code, (outputs / f"{index}.txt").read_text())
        for index, (words, code) in enumerate(zip(distinct, codes, strict=True))
    }
    return {command: by_words[command.words] for command in here}


# --- the tests --------------------------------------------------------------------------------


def test_the_docs_have_commands() -> None:
    """The extraction finds the README's two commands, verbatim."""
    readme = [
        command.text.split("#")[0].strip()
        for command in COMMANDS
        if command.page.name == "README.md"
    ]
    assert readme[:2] == ["make", "make test"]
    assert len(COMMANDS) > 20


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[f"{c.where} {c.text.split('  #')[0]}" for c in COMMANDS]
)
def test_doc_command(command: DocCommand, ran: dict[DocCommand, Ran], tmp_path: Path) -> None:
    words = command.words
    if words[0] == "make":
        check_make_goal(command, tmp_path)
    elif runs_here(words):
        result = ran[command]
        assert result.returncode == command.expected_exit, (
            f"{command.where}: `{command.text}` exited {result.returncode}, "
            f"not {command.expected_exit}:\n{result.output[-3000:]}"
        )
        printed = {line.rstrip() for line in result.output.splitlines()}
        missing = [line for line in command.expected_output if line not in printed]
        assert not missing, (
            f"{command.where}: `{command.text}` did not print what the docs show: {missing}\n"
            f"it printed:\n{result.output[-3000:]}"
        )
    elif (key := longest(ENGINE, words)) is not None:
        entry = ENGINE[key]
        found = engine_evidence(entry)
        assert found, (
            f"{command.where}: `{command.text}` is said to run in {entry.module}, "
            f"which does not match {entry.evidence!r}"
        )
    else:
        pytest.fail(
            f"{command.where}: `{command.text}` is run by no test: make it run here (RUN_HERE), "
            "or name the engine test that runs it (ENGINE)",
            pytrace=False,
        )


MAKE_FILES = (
    "Makefile",
    "scripts",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-checkov.txt",
)
RECIPE_OPS = re.compile(r"(?:\$\(PY\)|\S*python3?)\s+-m\s+ops\s+([^;&|()\n\\]*)")


def check_make_goal(command: DocCommand, folder: Path) -> None:
    """The goal exists, and each `ops` command its recipes run is itself run by a test."""
    for name in MAKE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy2(source, folder / name)
    # MISSING= skips the prerequisite check (tests/test_check_prerequisites.py has it): a dry
    # run needs no Go.
    dry = subprocess.run(
        ["make", "-n", "MISSING=", *command.argv[1:]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, f"{command.where}: `make -n {command.text}` failed:\n{dry.stderr}"
    uncovered = []
    for arguments in RECIPE_OPS.findall(dry.stdout):
        words = ("ops", *shlex.split(arguments))
        if not (runs_here(words) or longest(ENGINE, words) is not None):
            uncovered.append(" ".join(words))
    assert not uncovered, (
        f"{command.where}: `{command.text}` runs ops commands no test runs: {uncovered}"
    )
    if command.argv[1:] == ("test",):
        ci = CI_SCRIPT.read_text().splitlines()
        assert "make test" in [line.strip() for line in ci], (
            f"{relative(CI_SCRIPT)} runs no `make test`"
        )


def test_engine_map_names_real_tests() -> None:
    """Each engine test named exists and runs what it is said to run."""
    wrong = {
        " ".join(key): entry.module
        for key, entry in ENGINE.items()
        if engine_evidence(entry) is None
    }
    assert not wrong, f"engine tests that do not run what the map says: {wrong}"
