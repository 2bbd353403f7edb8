"""``ledgerdesk kb import|export`` from the shell, and the demo seed's help center."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ledgerdesk.cli import main
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.demo import HELP_CENTER_DIR, _import_help_center
from ledgerdesk.knowledge.files import read_directory
from ledgerdesk.knowledge.models import Article
from ledgerdesk.settings import get_settings
from tests.api_support import count

FIXTURES = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture
def shell(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    """The command line, configured like an install on the test database."""
    monkeypatch.setenv("LEDGERDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGERDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEDGERDESK_SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
    monkeypatch.setenv("LEDGERDESK_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_import_reports_created_updated_and_unchanged_articles(
    shell: CliRunner, tmp_path: Path
) -> None:
    directory = tmp_path / "kb"
    shutil.copytree(FIXTURES, directory)
    first = shell.invoke(main, ["kb", "import", str(directory)])
    assert first.exit_code == 0, first.output
    assert "created    withdrawal-pending.zh-Hans.md" in first.output
    assert "4 created, 0 updated, 0 unchanged" in first.output

    page = directory / "withdrawal-pending.en.md"
    page.write_text(page.read_text("utf-8").replace("is pending", "is stuck"), "utf-8")
    second = shell.invoke(main, ["kb", "import", str(directory)])
    assert second.exit_code == 0, second.output
    assert "updated    withdrawal-pending.en.md: title\n" in second.output
    assert "0 created, 1 updated, 3 unchanged" in second.output


def test_a_mismatched_file_is_named_and_nothing_is_imported(
    shell: CliRunner, db: Database, tmp_path: Path
) -> None:
    directory = tmp_path / "kb"
    shutil.copytree(FIXTURES, directory)
    (directory / "fees.zh-Hans.md").write_text(
        "---\ntitle: 手续费\nslug: fees\nlocale: en\ncategory: trading\n---\n\n正文\n", "utf-8"
    )
    result = shell.invoke(main, ["kb", "import", str(directory)])
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert (
        "fees.zh-Hans.md: the file name says locale 'zh-Hans' but the front matter says 'en'"
        in result.output
    )


def test_a_dry_run_and_json_output(shell: CliRunner) -> None:
    result = shell.invoke(main, ["kb", "import", "--dry-run", "--json", str(FIXTURES)])
    assert result.exit_code == 0, result.output
    assert '"dry_run": true' in result.output
    assert '"withdrawal-pending.zh-Hans.md"' in result.output


def test_export_writes_the_files_import_read(shell: CliRunner, tmp_path: Path) -> None:
    assert shell.invoke(main, ["kb", "import", str(FIXTURES)]).exit_code == 0
    result = shell.invoke(main, ["kb", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "5 files written" in result.output
    for path in FIXTURES.iterdir():
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_demo_help_center_files_are_all_valid() -> None:
    bundle = read_directory(HELP_CENTER_DIR)
    assert [str(problem) for problem in bundle.problems] == []
    assert {article.locale for article in bundle.articles} >= {"en", "zh-Hans"}


async def test_the_demo_seed_imports_its_help_center_and_skips_a_missing_one(
    db: Database, tmp_path: Path
) -> None:
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        assert await _import_help_center(uow, tmp_path / "absent") == 0
        assert await _import_help_center(uow, FIXTURES) == 4
        await uow.commit()
    async with db.sessionmaker() as session:
        slugs = set((await session.scalars(select(Article.slug))).all())
    assert slugs == {"withdrawal-pending", "wrong-network", "seed-phrase-safety"}
    assert await count(db, Article) == 4
