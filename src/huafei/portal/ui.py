"""Rendering: one Jinja2 environment per language, with its catalogue installed.

Each environment has the i18n extension with that language's translations installed once, so
no request changes shared state. Filters format money (``Money.format`` in the page's locale),
rates (折 and per cent) and times (Beijing time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from babel.support import NullTranslations
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from huafei.cards.secrets import mask_serial
from huafei.core.clock import utc
from huafei.core.days import BEIJING
from huafei.core.money import Money, Rate
from huafei.portal import labels
from huafei.portal.i18n import (
    HTML_LANG,
    LANGUAGE_NAMES,
    LOCALES,
    load_translations,
    negotiate,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _money(locale: str) -> Callable[[int | None], str]:
    def money(fen: int | None) -> str:
        return "—" if fen is None else Money(int(fen)).format(locale)

    return money


def _rate(locale: str) -> Callable[[Rate | Decimal | str], str]:
    def rate(value: Rate | Decimal | str) -> str:
        r = value if isinstance(value, Rate) else Rate(Decimal(str(value)))
        if locale.startswith("zh"):
            return r.as_zhe()
        return f"{r.as_percent()} ({r.as_zhe()})"

    return rate


def when(value: datetime | None) -> str:
    """A moment in Beijing time, the way both languages read it."""
    if value is None:
        return "—"
    return utc(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def iso(value: datetime | None) -> str:
    return "" if value is None else utc(value).isoformat()


LABEL_TABLES: dict[str, dict[str, str]] = {
    "carrier": labels.CARRIERS,
    "lane": labels.LANES,
    "destination": labels.DESTINATIONS,
    "rate_model": labels.RATE_MODELS,
    "method": labels.METHOD_KINDS,
    "withdrawal": labels.WITHDRAWAL_STATUSES,
    "withdrawal_event": labels.WITHDRAWAL_EVENTS,
    "notice": labels.NOTICE_KINDS,
    "order": labels.ORDER_STATES,
    "flow": labels.LIMIT_FLOWS,
    "window": labels.LIMIT_WINDOWS,
    "role": labels.STAFF_ROLES,
    "failure": labels.FAILURE_REASONS,
    "reason": labels.EVENT_REASONS,
    "memo": labels.STATEMENT_MEMOS,
    "balance_state": labels.BALANCE_STATES,
    "balance_step": labels.BALANCE_STEPS,
}


def _labeller(translations: NullTranslations) -> Callable[[str, object], str]:
    """``label("carrier", "cmcc")`` → 中国移动: a code's name in the page's language."""

    def label(table: str, code: object) -> str:
        if table == "tier":
            found = labels.TIERS.get(int(str(code)))
        else:
            found = LABEL_TABLES[table].get(str(code))
        return translations.gettext(found) if found else str(code)

    return label


def _actor(translations: NullTranslations) -> Callable[[str], str]:
    """``seller:12`` → 您 / You; ``risk`` → 风控: who moved an order, in the page's language."""

    def actor(value: str) -> str:
        kind = value.partition(":")[0]
        found = labels.ACTORS.get(kind)
        return translations.gettext(found) if found else value

    return actor


def _environment(locale: str, translations: NullTranslations) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = _money(locale)
    env.filters["rate"] = _rate(locale)
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.globals["label"] = _labeller(translations)
    env.globals["actor"] = _actor(translations)
    env.filters["serial"] = mask_serial
    env.globals["locale"] = locale
    env.globals["html_lang"] = HTML_LANG[locale]
    env.globals["html_lang_of"] = HTML_LANG
    env.globals["languages"] = LANGUAGE_NAMES
    return env


@dataclass(frozen=True)
class Ui:
    """The templates and catalogues of every language, built once per application."""

    environments: Mapping[str, Environment]
    translations: Mapping[str, NullTranslations]

    def gettext(self, locale: str) -> Callable[[str], str]:
        return self.translations[locale].gettext

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        locale = negotiate(request)
        page = self.environments[locale].get_template(template)
        body = page.render({"request": request, **context})
        return HTMLResponse(body, status_code=status, headers=dict(headers or {}))


def build_ui() -> Ui:
    translations = {locale: load_translations(locale) for locale in LOCALES}
    return Ui(
        environments={locale: _environment(locale, translations[locale]) for locale in LOCALES},
        translations=translations,
    )


def ui_of(request: Request) -> Ui:
    return cast("Ui", request.app.state.portal_ui)


def gettext_for(request: Request) -> Callable[[str], str]:
    """``_`` for strings made in Python (flash messages, errors) in the request's language."""
    return ui_of(request).gettext(negotiate(request))
