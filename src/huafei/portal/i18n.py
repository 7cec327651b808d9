"""The portal's languages: gettext catalogues compiled by Babel, picked per request.

Message ids are English; ``locale/zh_CN`` translates every one of them (the default language)
and ``locale/en`` leaves them as they are. ``make messages`` extracts, updates and compiles the
catalogues (docs/portal.md); the compiled ``.mo`` files are committed and a test keeps them
equal to the ``.po`` sources.
"""

from __future__ import annotations

from pathlib import Path

from babel.support import NullTranslations, Translations
from fastapi import Request

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "huafei_lang"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: what each language is called in itself (the language switch shows these)
LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}
#: the ``lang`` attribute of the HTML document
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def load_translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (English message ids need none to show)."""
    return Translations.load(dirname=str(LOCALE_DIR), locales=[locale], domain=DOMAIN)


def negotiate(request: Request) -> str:
    """The language of this request: the visitor's choice (a cookie), else Simplified Chinese.

    Chinese is the default whatever the browser prefers, as on the platforms sellers know; the
    switch on every page sets the cookie.
    """
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def statement_locale(locale: str) -> str:
    """The wallet statement's language code (``zh`` or ``en``) for a portal locale."""
    return "zh" if locale.startswith("zh") else "en"
