"""The embedded ERP database follows the bootstrap: one made by an older template is set aside, not used."""
from embedded.tryton import bootstrap, ensure_template


def test_a_database_from_an_older_bootstrap_is_set_aside_and_replaced(tmp_path):
    database = tmp_path / "db" / "retailsync.sqlite"
    database.parent.mkdir()
    database.write_bytes(b"made by an older bootstrap")
    database.with_suffix(".template").write_text("template-older.sqlite")

    assert bootstrap(tmp_path) == database

    assert database.read_bytes()[:15] == b"SQLite format 3"
    assert database.with_suffix(".template").read_text() == ensure_template().name
    (outdated,) = database.parent.glob("retailsync.sqlite.outdated-*")
    assert outdated.read_bytes() == b"made by an older bootstrap"


def test_a_database_from_the_current_bootstrap_keeps_its_data(tmp_path):
    database = bootstrap(tmp_path)
    before = database.stat().st_mtime_ns

    assert bootstrap(tmp_path) == database
    assert database.stat().st_mtime_ns == before
    assert not list(database.parent.glob("*.outdated-*"))
