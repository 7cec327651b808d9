"""The portal's catalogues: compiled as their sources say, complete, and the only text pages show.

``make messages`` extracts, updates and compiles the catalogues; these tests fail when someone
forgot to run it (a new message, an edited translation, an uncompiled change) or wrote text into
a template without marking it for translation.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment

from huafei.portal import i18n
from huafei.portal.ui import TEMPLATES, build_ui

PORTAL = Path(i18n.__file__).resolve().parent
LOCALE_DIR = i18n.LOCALE_DIR
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=locale)


def _ids(catalog: Catalog) -> set[str]:
    return {str(m.id) for m in catalog if m.id}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_compiled_catalogue_is_its_source_compiled(locale: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(locale))
    committed = (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert compiled.getvalue() == committed, f"run `make messages` ({locale} .mo is stale)"


def test_the_catalogues_hold_exactly_the_messages_of_the_code_and_templates() -> None:
    with (PORTAL / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    extracted = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(PORTAL, method_map, options_map)
    }
    for locale in i18n.LOCALES:
        ids = _ids(_catalog(locale))
        assert extracted - ids == set(), f"{locale}: new messages; run `make messages`"
        assert ids - extracted == set(), f"{locale}: messages no longer used; run `make messages`"


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    catalog = _catalog("zh_CN")
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []
    for message in catalog:
        if message.id:
            wanted = sorted(PLACEHOLDER.findall(str(message.id)))
            assert sorted(PLACEHOLDER.findall(str(message.string))) == wanted, message.id


def test_english_shows_the_message_ids_and_chinese_their_translation() -> None:
    ui = build_ui()
    assert ui.gettext("en")("Wallet") == "Wallet"
    assert ui.gettext("zh_CN")("Wallet") == "钱包"


class _VisibleText(HTMLParser):
    """Text a person would read or hear: text nodes and the attributes that carry words."""

    ATTRIBUTES = frozenset({"alt", "title", "aria-label", "placeholder"})

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend(value or "" for name, value in attrs if name in self.ATTRIBUTES)

    def handle_data(self, data: str) -> None:
        self.found.append(data)


#: Letters of any script; digits, punctuation and symbols (·, —, ¥) may stand in a template.
WORDS = re.compile(r"[^\W\d_]", re.UNICODE)


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html"))
)
def test_templates_show_no_text_that_is_not_in_the_catalogues(template: str) -> None:
    source = (TEMPLATES / template).read_text()
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    # Everything Jinja evaluates becomes a placeholder; what is left is the template's own text.
    data = "".join(
        value if kind == "data" else "\x00"
        for _line, kind, value in env.lex(source)
        if kind in ("data", "variable_begin", "block_begin")
    )
    parser = _VisibleText()
    parser.feed(data)
    bare = [text.strip() for text in parser.found if WORDS.search(text.replace("\x00", ""))]
    assert bare == [], f"{template}: put these in _() so they are translated"
