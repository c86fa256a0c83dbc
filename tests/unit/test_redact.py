"""Scrubbing of credentials and secret-named parameters."""

from __future__ import annotations

import nbformat

from runbook_lib.redact import REDACTED, Redactor, is_secret_name

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def test_secret_names() -> None:
    for name in ("api_token", "DB_PASSWORD", "client_secret", "GITHUB_TOKEN", "api_key"):
        assert is_secret_name(name)
    for name in ("params_path", "interactive", "name", "delete_connection"):
        assert not is_secret_name(name)


def test_credentials_from_environment_are_scrubbed_in_any_spelling() -> None:
    red = Redactor.from_environment(
        environ={"AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_SESSION_TOKEN": "tok" * 10}
    )
    assert red.text(f"key={SECRET_KEY}!") == f"key={REDACTED}!"
    escaped = SECRET_KEY.replace("/", "\\/")
    assert SECRET_KEY not in red.text(repr(SECRET_KEY)) and escaped not in red.text(escaped)
    assert red.text("AKIAIOSFODNN7EXAMPLE in text") == f"{REDACTED} in text"
    assert red.text("tok" * 10) == REDACTED


def test_short_values_are_not_scrubbed_as_free_text() -> None:
    red = Redactor.from_environment(environ={"AWS_ACCESS_KEY_ID": "test"})
    assert red.text("testing the test") == "testing the test"


def test_scrub_by_name_keeps_secret_references() -> None:
    red = Redactor.from_environment({"github_token": "ghp_abcdef123456"}, environ={})
    data = {
        "github_token": "ghp_abcdef123456",
        "note": "uses ghp_abcdef123456",
        "source": {"secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}},
        "password": 1234,
        "tokens": [],
    }
    assert red.scrub(data) == {
        "github_token": REDACTED,
        "note": f"uses {REDACTED}",
        "source": {"secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}},
        "password": REDACTED,
        "tokens": [],
    }


def test_notebook_injected_cell_metadata_and_outputs() -> None:
    red = Redactor.from_environment(
        {"db_password": "hunter2hunter2"}, environ={"AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    )
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('params_path = "p.yaml"\ndb_password = "hunter2hunter2"\n')
    cell.metadata.tags = ["injected-parameters"]
    out = nbformat.v4.new_code_cell("print(x)")
    out.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"{SECRET_KEY} hunter2hunter2"),
        nbformat.v4.new_output("display_data", data={"text/plain": f"'{SECRET_KEY}'"}),
    ]
    nb.cells = [cell, out]
    nb.metadata.papermill = {"parameters": {"params_path": "p.yaml", "db_password": "hunter2hunter2"}}
    text = nbformat.writes(red.notebook(nb))
    assert "hunter2hunter2" not in text and SECRET_KEY not in text
    assert 'db_password = \\"[REDACTED]\\"' in text and "p.yaml" in text
